package report

import "html/template"

// common holds what both pages share: the head, with the style inside, and
// the rows that say which model and method made the page.
var common = template.Must(template.New("common").Funcs(template.FuncMap{"style": func() template.CSS { return style }}).Parse(`
{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="saliency">
<title>{{.}}</title>
<style>{{style}}</style>
</head>
<body>{{end}}
{{define "model"}}<tr><th>Model</th><td>{{.Model.Name}}: {{.Model.Architecture}}, weights {{.Model.Weights}}, input {{.Model.Width}}×{{.Model.Height}}</td></tr>
<tr><th>Method</th><td>{{.Method}}{{range .Params}} · {{.Name}} {{.Value}}{{end}}</td></tr>
{{if .CommandLine}}<tr><th>Command</th><td><code>{{.CommandLine}}</code></td></tr>{{end}}{{end}}
`))

// page parses a page's template beside the common parts.
func page(name, text string) *template.Template {
	return template.Must(template.Must(common.Clone()).New(name).Parse(text))
}

var explainTemplate = page("explain", `{{template "head" printf "saliency: %s, %s" .Model.Name .Method}}
<h1>Saliency maps: {{.Model.Name}}, {{.Method}}</h1>
<p class="sub">{{.Started}} · {{.Elapsed}}{{if .Stopped}} · <span class="bad">{{.Stopped}}</span>{{end}}</p>
<p class="counts"><span><b>{{.Explained}}</b> explained</span><span><b>{{.Skipped}}</b> skipped (outputs existed)</span><span{{if .Failed}} class="bad"{{end}}><b>{{.Failed}}</b> failed</span></p>
<table class="facts">
{{template "model" .}}
{{if .Colormap}}<tr><th>Colours</th><td>{{.Colormap}}; each map is normalised to its own minimum and maximum</td></tr>{{end}}
</table>
{{if .Failures}}<h2 id="failed" class="bad">Failed</h2>
<ul class="failed">{{range .Failures}}<li>{{if .Name}}<span class="path">{{.Name}}</span>: {{end}}{{.Reason}}</li>{{end}}</ul>{{end}}
<h2 id="inputs">Inputs</h2>
{{if not .Inputs}}<p class="note">No input was explained.</p>{{end}}
{{range .Inputs}}<section class="input">
<h3><a class="path" href="{{.Link}}">{{.Name}}</a> {{if .Size}}<span class="dim">{{.Size}}</span>{{end}}{{if .Skipped}} <span class="dim">· skipped: maps from an earlier run</span>{{end}}</h3>
<div class="row">
<figure><a href="{{.Link}}" class="frame"><img src="{{.Orig.Src}}" width="{{.Orig.Width}}" height="{{.Orig.Height}}" loading="lazy" alt="original"></a><figcaption class="dim">original</figcaption></figure>
{{range .Units}}<figure class="unit">
<a href="{{.Map.Src}}" class="frame"><img src="{{.Map.Src}}" width="{{.Map.Width}}" height="{{.Map.Height}}" loading="lazy" alt="map{{if .Label}} for {{.Label}}{{end}}"></a>
{{if .Overlay.Src}}<a href="{{.Overlay.Src}}" class="frame"><img src="{{.Overlay.Src}}" width="{{.Overlay.Width}}" height="{{.Overlay.Height}}" loading="lazy" alt="overlay"></a>{{end}}
<figcaption>{{if .Label}}<span class="label">{{.Label}}</span>{{else}}<span class="note">unit not in the file name</span>{{end}}{{if .Unit}} <span class="dim">· unit {{.Unit}}</span>{{end}}{{if .Score}} <span class="dim">· {{.Score}}</span>{{end}}</figcaption>
</figure>
{{end}}</div>
</section>
{{end}}
</body>
</html>
`)

var evalTemplate = page("eval", `{{template "head" printf "saliency eval: %s, %s" .Model.Name .Method}}
<h1>Saliency evaluation: {{.Model.Name}}, {{.Method}}</h1>
<p class="sub">{{.Started}} · {{.Elapsed}} · {{.Scores.Images}} composites of <span class="path">{{.Dir}}</span>{{if .Scores.Failed}} · <span class="bad">{{.Scores.Failed}} failed</span>{{end}}</p>
<table class="facts">
{{template "model" .}}
</table>
<h2>Scores</h2>
<table class="metrics">
<thead><tr><th></th><th>maps</th><th>uniform map</th><th>ratio</th><th></th></tr></thead>
<tbody>{{range .Rows}}<tr><td>{{.Name}}</td><td>{{.Maps}}</td><td>{{.Uniform}}</td><td>{{.Ratio}}</td><td class="dim" style="text-align:left">{{.Note}}</td></tr>{{end}}</tbody>
</table>
{{if .Spearman}}<p>Rank correlation of the maps with those of <b>{{.Scores.RandomModel}}</b> (Spearman, mean): <b>{{.Spearman}}</b>. Near 0 means the maps depend on the trained weights (Adebayo et al. 2018).</p>{{end}}
{{if .Failures}}<h2 class="bad">Failed</h2><ul class="failed">{{range .Failures}}<li>{{.}}</li>{{end}}</ul>{{end}}
<h2>A sample of {{len .Shown}} composites</h2>
<p class="dim">Left: the composite with the pasted object's box; right: the map, its maximum marked with a white cross. The box is <span class="good">green</span> when the maximum falls inside it, <span class="bad">red</span> when it does not.</p>
<div class="samples">
{{range .Shown}}{{template "sample" .}}{{end}}</div>
{{if .Missed}}<h2>{{len .Missed}} more whose maximum fell outside the box</h2>
<div class="samples">
{{range .Missed}}{{template "sample" .}}{{end}}</div>{{end}}
{{define "sample"}}<figure>
<img src="{{.Image.Src}}" width="{{.Image.Width}}" height="{{.Image.Height}}" alt="composite {{.Name}}">
<img src="{{.Map.Src}}" width="{{.Map.Width}}" height="{{.Map.Height}}" alt="map of {{.Name}}">
<figcaption><span class="path">{{.Name}}</span><br>
object <span class="label">{{.Truth}}</span> · predicted {{if .Correct}}<span class="good">{{.Predicted}}</span>{{else}}<span class="bad">{{.Predicted}}</span>{{end}}<br>
{{if .Hit}}<span class="good">maximum inside the box</span>{{else}}<span class="bad">maximum outside the box</span>{{end}} · {{.Energy}} of the map in the box</figcaption>
</figure>
{{end}}</body>
</html>
`)
