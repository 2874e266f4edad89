package report

import "html/template"

// style is every page's CSS, inside the page. Sections skip layout and paint
// while off screen (content-visibility), and pictures load lazily, so a page
// of thousands of inputs opens quickly and only fetches what is looked at.
const style template.CSS = `
:root { color-scheme: light; --ink: #222; --dim: #666; --line: #ddd; --bad: #b00020; --good: #1b7a3a; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0 auto; padding: 16px 24px 48px; max-width: 1400px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
.sub { color: var(--dim); margin: 0 0 16px; }
table.facts { border-collapse: collapse; margin: 8px 0 16px; }
table.facts th { text-align: left; font-weight: 600; padding: 2px 16px 2px 0; vertical-align: top; white-space: nowrap; }
table.facts td { padding: 2px 0; }
.counts span { display: inline-block; margin-right: 18px; }
.counts b { font-size: 18px; }
.bad { color: var(--bad); }
.good { color: var(--good); }
code, .path { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 12.5px; word-break: break-all; }
ul.failed { padding-left: 18px; }
ul.failed li { margin: 3px 0; }
section.input { border-top: 1px solid var(--line); padding: 10px 0 14px;
                content-visibility: auto; contain-intrinsic-size: auto 260px; }
section.input h3 { font-size: 13px; font-weight: 600; margin: 0 0 8px; }
section.input h3 .dim, .dim { color: var(--dim); font-weight: 400; }
.row { display: flex; flex-wrap: wrap; gap: 14px 18px; align-items: flex-start; }
figure { margin: 0; }
figure.unit { display: grid; grid-template-columns: auto auto; gap: 4px; }
figure.unit figcaption { grid-column: 1 / span 2; }
.frame { width: 192px; height: 192px; display: flex; align-items: center; justify-content: center;
         background: #f4f4f4; }
.frame img { display: block; max-width: 192px; max-height: 192px; }
figcaption { font-size: 12.5px; margin-top: 4px; max-width: 388px; }
figcaption .label { font-weight: 600; }
.note { color: var(--dim); font-style: italic; }
table.metrics { border-collapse: collapse; margin: 8px 0 20px; }
table.metrics th, table.metrics td { padding: 4px 14px 4px 0; text-align: right; }
table.metrics th:first-child, table.metrics td:first-child { text-align: left; }
table.metrics thead th { border-bottom: 1px solid var(--line); }
.samples { display: flex; flex-wrap: wrap; gap: 18px; }
.samples figure { display: grid; grid-template-columns: auto auto; gap: 4px; }
.samples figcaption { grid-column: 1 / span 2; }
.samples img { image-rendering: pixelated; }
`
