package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// docsCSP forbids the page every fetch: it must work offline, so it has no
// reason to load anything, and a browser refuses if a change ever tries.
const docsCSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// handleDocs answers GET /docs with the HTML reference. The page is
// rendered once, here, from the embedded document; it panics if that
// fails, as regexp.MustCompile does on a bad constant: the document is
// part of the binary, and the tests render it.
func handleDocs() http.Handler {
	page, err := renderDocs(openapiJSON)
	if err != nil {
		panic(fmt.Sprintf("render /docs from the embedded openapi.json: %v", err))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", docsCSP)
		w.WriteHeader(http.StatusOK)
		w.Write(page)
	})
}

// docsBaseURL is where the curl examples send their requests: the
// service's default address.
const docsBaseURL = "http://localhost:" + defaultPort

type docsPage struct {
	Title, Version, Summary string
	Description             []docsBlock
	Security                []docsScheme
	BaseURL                 string
	Groups                  []docsGroup
	Schemas                 []docsSchema
}

// docsBlock is a paragraph, or a list when Items is set.
type docsBlock struct {
	Text  string
	Items []string
}

type docsGroup struct {
	Name, Description string
	Endpoints         []docsEndpoint
}

// docsScheme is a security scheme, shown in the page's introduction.
type docsScheme struct {
	Name, Header, Kind, Description string
}

// docsAuth is what an endpoint asks of the caller: Text in words, and the
// schemes it names, linked to the introduction.
type docsAuth struct {
	Text    string
	Schemes []string
}

type docsEndpoint struct {
	Anchor, Method, Path, Summary, Description string
	Auth                                       docsAuth
	Params                                     []docsField
	Body                                       *docsBody
	Responses                                  []docsResponse
	Curl                                       string
}

type docsBody struct {
	Required                                 bool
	MediaType, Description, ShapeDescription string
	Shape                                    docsType
	Fields                                   []docsField
}

type docsResponse struct {
	Status, Description string
	Headers             []docsField
	MediaType           string
	Shape               docsType
	Outline             string // the body's fields on one line, when shown
}

// docsType names a type, linking to the schema it comes from if any.
type docsType struct {
	Text, Link string
}

type docsField struct {
	Name, In     string
	Type         docsType
	Required     bool
	Constraints  []string
	Description  string
	DetailSchema string // schema name shown as "see …"
}

type docsSchema struct {
	Name, Description string
	Type              docsType
	Constraints       []string
	Fields            []docsField
}

// renderDocs builds the HTML reference from an OpenAPI document.
func renderDocs(doc []byte) ([]byte, error) {
	var d apiDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("parse OpenAPI document: %w", err)
	}
	page, err := newDocsPage(&d)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := docsTemplate.Execute(&buf, page); err != nil {
		return nil, fmt.Errorf("render docs page: %w", err)
	}
	return buf.Bytes(), nil
}

// newDocsPage turns the document into what the template shows: endpoints
// grouped by tag in the document's tag order, then by path and method.
func newDocsPage(d *apiDoc) (docsPage, error) {
	page := docsPage{Title: d.Info.Title, Version: d.Info.Version, Summary: d.Info.Summary,
		Description: textBlocks(d.Info.Description), BaseURL: docsBaseURL}
	schemeNames := make([]string, 0, len(d.Components.SecuritySchemes))
	for name := range d.Components.SecuritySchemes {
		schemeNames = append(schemeNames, name)
	}
	slices.Sort(schemeNames)
	for _, name := range schemeNames {
		s := d.Components.SecuritySchemes[name]
		if err := checkBearerScheme(s); err != nil {
			return docsPage{}, fmt.Errorf("security scheme %s: %w", name, err)
		}
		kind := "HTTP bearer"
		if s.BearerFormat != "" {
			kind += ", " + s.BearerFormat
		}
		page.Security = append(page.Security, docsScheme{Name: name, Header: "Authorization: Bearer <token>",
			Kind: kind, Description: s.Description})
	}
	paths := make([]string, 0, len(d.Paths))
	for p := range d.Paths {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, tag := range d.Tags {
		group := docsGroup{Name: tag.Name, Description: tag.Description}
		for _, path := range paths {
			item := d.Paths[path]
			for _, mo := range item.operations() {
				if !slices.Contains(mo.op.Tags, tag.Name) {
					continue
				}
				ep, err := newDocsEndpoint(d, path, mo.method, item, mo.op)
				if err != nil {
					return docsPage{}, fmt.Errorf("%s %s: %w", mo.method, path, err)
				}
				group.Endpoints = append(group.Endpoints, ep)
			}
		}
		page.Groups = append(page.Groups, group)
	}
	names := make([]string, 0, len(d.Components.Schemas))
	for name := range d.Components.Schemas {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		s, err := newDocsSchema(d, name)
		if err != nil {
			return docsPage{}, fmt.Errorf("schema %s: %w", name, err)
		}
		page.Schemas = append(page.Schemas, s)
	}
	return page, nil
}

func newDocsEndpoint(d *apiDoc, path, method string, item apiPathItem, op *apiOperation) (docsEndpoint, error) {
	ep := docsEndpoint{Anchor: anchorFor(method, path), Method: method, Path: path,
		Summary: op.Summary, Description: op.Description}
	security := op.Security
	if security == nil {
		security = d.Security
	}
	auth, err := authOf(d, security)
	if err != nil {
		return docsEndpoint{}, err
	}
	ep.Auth = auth
	examples := make(map[string]string)
	for _, p := range slices.Concat(item.Parameters, op.Parameters) {
		if p.Ref != "" {
			name, err := refName(p.Ref, parameterRefPrefix)
			if err != nil {
				return docsEndpoint{}, err
			}
			resolved, ok := d.Components.Parameters[name]
			if !ok {
				return docsEndpoint{}, fmt.Errorf("no parameter %q", name)
			}
			p = resolved
		}
		f, err := fieldOf(d, p.Name, p.Schema, p.Required, p.Description)
		if err != nil {
			return docsEndpoint{}, fmt.Errorf("parameter %s: %w", p.Name, err)
		}
		f.In = p.In
		ep.Params = append(ep.Params, f)
		var example string
		if json.Unmarshal(p.Example, &example) == nil {
			examples[p.Name] = example
		}
	}
	var bodyExample []byte
	if rb := op.RequestBody; rb != nil {
		mediaType, mt, err := onlyContent(rb.Content)
		if err != nil {
			return docsEndpoint{}, fmt.Errorf("request body: %w", err)
		}
		body := &docsBody{Required: rb.Required, MediaType: mediaType, Description: rb.Description}
		if body.Shape, body.Fields, body.ShapeDescription, err = shapeOf(d, mt.Schema, true); err != nil {
			return docsEndpoint{}, fmt.Errorf("request body: %w", err)
		}
		ep.Body = body
		if len(mt.Example) > 0 {
			var buf bytes.Buffer
			if err := json.Compact(&buf, mt.Example); err != nil {
				return docsEndpoint{}, fmt.Errorf("request body example: %w", err)
			}
			bodyExample = buf.Bytes()
		}
	}
	statuses := make([]string, 0, len(op.Responses))
	for status := range op.Responses {
		statuses = append(statuses, status)
	}
	slices.Sort(statuses)
	for _, status := range statuses {
		resp, err := newDocsResponse(d, status, op.Responses[status])
		if err != nil {
			return docsEndpoint{}, fmt.Errorf("response %s: %w", status, err)
		}
		ep.Responses = append(ep.Responses, resp)
	}
	ep.Curl = curlExample(method, path, examples, bodyExample)
	return ep, nil
}

// checkBearerScheme refuses a security scheme the page cannot describe:
// anything but an HTTP bearer scheme, the kind the document uses.
func checkBearerScheme(s apiSecurityScheme) error {
	if s.Type != "http" || !strings.EqualFold(s.Scheme, "bearer") {
		return fmt.Errorf("type %q, scheme %q: only HTTP bearer schemes are supported", s.Type, s.Scheme)
	}
	return nil
}

// authOf says in words what an operation's security requirements ask:
// nothing, a bearer token, or a bearer token only when the service is
// configured to require one (a requirement list holding the empty
// requirement too, as the /api/ operations have).
func authOf(d *apiDoc, reqs []apiSecurityRequirement) (docsAuth, error) {
	var auth docsAuth
	optional := false
	for _, req := range reqs {
		if len(req) == 0 {
			optional = true
			continue
		}
		if len(req) > 1 {
			return docsAuth{}, fmt.Errorf("a security requirement of %d schemes together is not supported", len(req))
		}
		for name := range req {
			s, ok := d.Components.SecuritySchemes[name]
			if !ok {
				return docsAuth{}, fmt.Errorf("no security scheme %q", name)
			}
			if err := checkBearerScheme(s); err != nil {
				return docsAuth{}, fmt.Errorf("security scheme %s: %w", name, err)
			}
			if !slices.Contains(auth.Schemes, name) {
				auth.Schemes = append(auth.Schemes, name)
			}
		}
	}
	switch {
	case len(auth.Schemes) == 0:
		auth.Text = "None: open to every caller."
	case optional:
		auth.Text = "Authorization: Bearer token, when the service requires it."
	default:
		auth.Text = "Authorization: Bearer token, required."
	}
	return auth, nil
}

func newDocsResponse(d *apiDoc, status string, r apiResponse) (docsResponse, error) {
	if r.Ref != "" {
		name, err := refName(r.Ref, responseRefPrefix)
		if err != nil {
			return docsResponse{}, err
		}
		resolved, ok := d.Components.Responses[name]
		if !ok {
			return docsResponse{}, fmt.Errorf("no response %q", name)
		}
		r = resolved
	}
	resp := docsResponse{Status: status, Description: r.Description}
	headers := make([]string, 0, len(r.Headers))
	for name := range r.Headers {
		headers = append(headers, name)
	}
	slices.Sort(headers)
	for _, name := range headers {
		h := r.Headers[name]
		if h.Ref != "" {
			ref, err := refName(h.Ref, headerRefPrefix)
			if err != nil {
				return docsResponse{}, fmt.Errorf("header %s: %w", name, err)
			}
			resolved, ok := d.Components.Headers[ref]
			if !ok {
				return docsResponse{}, fmt.Errorf("header %s: no header %q", name, ref)
			}
			h = resolved
		}
		f, err := fieldOf(d, name, h.Schema, h.Required, h.Description)
		if err != nil {
			return docsResponse{}, fmt.Errorf("header %s: %w", name, err)
		}
		resp.Headers = append(resp.Headers, f)
	}
	if len(r.Content) == 0 {
		return resp, nil
	}
	mediaType, mt, err := onlyContent(r.Content)
	if err != nil {
		return docsResponse{}, err
	}
	resp.MediaType = mediaType
	var fields []docsField
	resp.Shape, fields, _, err = shapeOf(d, mt.Schema, false)
	resp.Outline = outline(fields)
	return resp, err
}

// outline writes an object's fields on one line, JSON-like: fixed values
// as they are, others by type: {"detail": "Not Found"}.
func outline(fields []docsField) string {
	if len(fields) == 0 {
		return ""
	}
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = strconv.Quote(f.Name) + ": " + f.Type.Text
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// onlyContent returns the one media type of a body: every body here has
// exactly one.
func onlyContent(content map[string]apiMediaType) (string, apiMediaType, error) {
	if len(content) == 1 {
		for mediaType, mt := range content {
			return mediaType, mt, nil
		}
	}
	return "", apiMediaType{}, fmt.Errorf("want exactly one media type, have %d", len(content))
}

func newDocsSchema(d *apiDoc, name string) (docsSchema, error) {
	s := d.Components.Schemas[name]
	out := docsSchema{Name: name, Description: s.Description}
	if s.Type.is("object") {
		out.Type = docsType{Text: "object"}
		fields, err := fieldsOf(d, s)
		if err != nil {
			return docsSchema{}, err
		}
		out.Fields = fields
		return out, nil
	}
	t, err := typeOf(d, s)
	if err != nil {
		return docsSchema{}, err
	}
	out.Type, out.Constraints = t, constraintsOf(s)
	return out, nil
}

// shapeOf describes a body: its type, its fields when it is an object, and
// its description. A plain reference to a named schema is only linked to,
// unless expandNamed is set; one with overrides (an error's fixed detail)
// is always shown field by field.
func shapeOf(d *apiDoc, s *apiSchema, expandNamed bool) (docsType, []docsField, string, error) {
	r, name, err := resolve(d, s)
	if err != nil {
		return docsType{}, nil, "", err
	}
	t, err := typeOf(d, s)
	if err != nil {
		return docsType{}, nil, "", err
	}
	plainRef := name != "" && len(s.Properties) == 0
	if !r.Type.is("object") || len(r.Properties) == 0 || plainRef && !expandNamed {
		return t, nil, r.Description, nil
	}
	fields, err := fieldsOf(d, r)
	return t, fields, r.Description, err
}

// fieldsOf lists an object schema's properties, required ones first.
func fieldsOf(d *apiDoc, s *apiSchema) ([]docsField, error) {
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	slices.SortStableFunc(names, func(a, b string) int {
		ra, rb := slices.Contains(s.Required, a), slices.Contains(s.Required, b)
		switch {
		case ra && !rb:
			return -1
		case rb && !ra:
			return 1
		}
		return strings.Compare(a, b)
	})
	var fields []docsField
	for _, name := range names {
		f, err := fieldOf(d, name, s.Properties[name], slices.Contains(s.Required, name), "")
		if err != nil {
			return nil, fmt.Errorf("property %s: %w", name, err)
		}
		fields = append(fields, f)
	}
	return fields, nil
}

// fieldOf describes one parameter, header or property. A reference to a
// named schema is shown resolved, with its name for further reading.
func fieldOf(d *apiDoc, name string, s *apiSchema, required bool, description string) (docsField, error) {
	r, refName, err := resolve(d, s)
	if err != nil {
		return docsField{}, err
	}
	t, err := typeOf(d, s)
	if err != nil {
		return docsField{}, err
	}
	if description == "" {
		description = r.Description
	}
	f := docsField{Name: name, Type: t, Required: required, Description: description, DetailSchema: refName}
	if !r.Type.is("object") {
		f.Constraints = constraintsOf(r)
	}
	return f, nil
}

// typeOf names a schema's type in words: "string or null", "array of
// TaskRead", "one of: …".
func typeOf(d *apiDoc, s *apiSchema) (docsType, error) {
	r, name, err := resolve(d, s)
	if err != nil {
		return docsType{}, err
	}
	if name != "" && r.Type.is("object") {
		return docsType{Text: name, Link: "schema-" + name}, nil
	}
	switch {
	case len(r.Const) > 0:
		return docsType{Text: string(r.Const)}, nil
	case len(r.Enum) > 0:
		values := make([]string, len(r.Enum))
		for i, v := range r.Enum {
			values[i] = string(v)
		}
		return docsType{Text: "one of " + strings.Join(values, ", ")}, nil
	case len(r.AnyOf) > 0:
		var alts []string
		for _, alt := range r.AnyOf {
			t, err := typeOf(d, alt)
			if err != nil {
				return docsType{}, err
			}
			if c := constraintsOf(alt); len(c) > 0 {
				t.Text += " (" + strings.Join(c, "; ") + ")"
			}
			alts = append(alts, t.Text)
		}
		return docsType{Text: strings.Join(alts, ", or ")}, nil
	case r.Type.is("array"):
		var first []string
		for _, p := range r.PrefixItems {
			t, err := typeOf(d, p)
			if err != nil {
				return docsType{}, err
			}
			first = append(first, t.Text)
		}
		if r.Items == nil {
			return docsType{Text: "array"}, nil
		}
		item, err := typeOf(d, r.Items)
		if err != nil {
			return docsType{}, err
		}
		if len(first) > 0 {
			// JSON Schema 2020-12: items covers what follows the prefix.
			return docsType{Text: "array: " + strings.Join(first, ", then ") + ", then " + item.Text, Link: item.Link}, nil
		}
		return docsType{Text: "array of " + item.Text, Link: item.Link}, nil
	case len(r.Type) > 0:
		return docsType{Text: strings.Join(r.Type, " or ")}, nil
	}
	return docsType{Text: "any"}, nil
}

// constraintsOf lists a schema's limits in words.
func constraintsOf(s *apiSchema) []string {
	var c []string
	switch {
	case s.MinLength != nil && s.MaxLength != nil:
		c = append(c, fmt.Sprintf("%d to %d characters", *s.MinLength, *s.MaxLength))
	case s.MaxLength != nil:
		c = append(c, fmt.Sprintf("at most %d characters", *s.MaxLength))
	case s.MinLength != nil:
		c = append(c, fmt.Sprintf("at least %d characters", *s.MinLength))
	}
	if s.MinItems != nil {
		c = append(c, fmt.Sprintf("at least %d items", *s.MinItems))
	}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	switch {
	case s.Minimum != nil && s.Maximum != nil:
		c = append(c, fmt.Sprintf("from %s to %s", num(*s.Minimum), num(*s.Maximum)))
	case s.Minimum != nil:
		c = append(c, "at least "+num(*s.Minimum))
	case s.Maximum != nil:
		c = append(c, "at most "+num(*s.Maximum))
	}
	if s.Format != "" {
		c = append(c, "format "+s.Format)
	}
	if s.Pattern != "" {
		c = append(c, "matches "+readablePattern(s.Pattern))
	}
	return c
}

// readablePattern writes the characters of a pattern that would show as
// blanks or not at all (Unicode spaces, controls) as \uXXXX escapes, which
// mean the same in an ECMA-262 pattern.
func readablePattern(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r < 0x20 || r > 0x7e {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// curlExample is a command that calls the endpoint with the document's
// example values.
func curlExample(method, path string, params map[string]string, body []byte) string {
	for name, value := range params {
		path = strings.ReplaceAll(path, "{"+name+"}", url.PathEscape(value))
	}
	var b strings.Builder
	b.WriteString("curl -i")
	if method != "GET" {
		b.WriteString(" -X " + method)
	}
	b.WriteString(" " + shellQuote(docsBaseURL+path))
	if body != nil {
		b.WriteString(" \\\n  -H 'Content-Type: application/json' -d " + shellQuote(string(body)))
	}
	return b.String()
}

// shellQuote wraps s in single quotes for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// anchorFor is an endpoint's id on the page, such as
// "PUT-/api/{user_id}/tasks/{task_id}" made safe: "put-api-user_id-tasks-task_id".
func anchorFor(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return !isAnchorRune(r) }) {
		b.WriteString("-" + part)
	}
	return b.String()
}

func isAnchorRune(r rune) bool {
	return r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// textBlocks splits a description into paragraphs and "- " lists.
func textBlocks(s string) []docsBlock {
	var blocks []docsBlock
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		switch item, isItem := strings.CutPrefix(line, "- "); {
		case line == "":
		case isItem && len(blocks) > 0 && blocks[len(blocks)-1].Items != nil:
			last := &blocks[len(blocks)-1]
			last.Items = append(last.Items, item)
		case isItem:
			blocks = append(blocks, docsBlock{Items: []string{item}})
		default:
			blocks = append(blocks, docsBlock{Text: line})
		}
	}
	return blocks
}

var docsTemplate = template.Must(template.New("docs").Funcs(template.FuncMap{
	"lower": strings.ToLower,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} {{.Version}} API reference</title>
<style>
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; margin: 0; background: #f6f7f9; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 64px; background: #fff; }
h1 { margin: 0 0 4px; font-size: 28px; }
h2 { margin-top: 40px; border-bottom: 2px solid #e3e6eb; padding-bottom: 4px; }
h3 { margin: 0; font-size: 18px; font-weight: 600; }
h4 { margin: 16px 0 6px; font-size: 14px; text-transform: uppercase; letter-spacing: .04em; color: #5b6474; }
code, pre, .path { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px; }
pre { background: #1e2430; color: #e8ecf2; padding: 12px 14px; border-radius: 6px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
.summary { color: #5b6474; margin: 0 0 16px; }
nav ul { columns: 2; padding-left: 18px; }
nav li { margin: 2px 0; }
section.endpoint { border: 1px solid #e3e6eb; border-radius: 8px; padding: 16px 18px; margin: 20px 0; }
.head { display: flex; align-items: baseline; gap: 12px; flex-wrap: wrap; }
.method { display: inline-block; min-width: 64px; text-align: center; font-weight: 700; font-size: 13px; color: #fff; border-radius: 4px; padding: 2px 8px; }
.method.get { background: #2f7d32; } .method.post { background: #1565c0; } .method.put { background: #b26a00; }
.method.patch { background: #6a1b9a; } .method.delete { background: #c62828; }
.path { font-size: 16px; font-weight: 600; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid #eceef2; padding: 6px 8px; }
th { font-size: 12px; color: #5b6474; font-weight: 600; }
td.type { min-width: 15em; }
td.name { white-space: nowrap; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 13px; }
.req { color: #c62828; font-size: 12px; }
.constraints { color: #5b6474; font-size: 13px; }
.constraints code { word-break: break-all; }
.status { font-weight: 700; font-family: ui-monospace, Menlo, Consolas, monospace; }
.s2 { color: #2f7d32; } .s4 { color: #b26a00; } .s5 { color: #c62828; }
.response { margin: 6px 0 12px; padding-left: 12px; border-left: 3px solid #eceef2; }
.response p { margin: 4px 0; }
code.outline { background: #f1f3f6; padding: 1px 5px; border-radius: 3px; }
</style>
</head>
<body>
<main>
<h1>{{.Title}} <small>{{.Version}}</small></h1>
<p class="summary">{{.Summary}}</p>
{{range .Description}}{{if .Items}}<ul>{{range .Items}}<li>{{.}}</li>{{end}}</ul>
{{else}}<p>{{.Text}}</p>
{{end}}{{end}}
{{with .Security}}<h2 id="security">Authentication</h2>
{{range .}}<section class="endpoint" id="security-{{.Name}}">
<h3>{{.Name}}</h3>
<p><code>{{.Header}}</code> ({{.Kind}})</p>
<p>{{.Description}}</p>
</section>
{{end}}{{end}}
<p>The machine-readable document is at <a href="/openapi.json"><code>/openapi.json</code></a> (OpenAPI 3.1). The curl examples assume the service at <code>{{.BaseURL}}</code>{{if .Security}}, without authentication: when it requires tokens, add <code>-H 'Authorization: Bearer &lt;token&gt;'</code>{{end}}.</p>
<nav>
<h2>Endpoints</h2>
<ul>
{{range .Groups}}{{range .Endpoints}}<li><a href="#{{.Anchor}}"><code>{{.Method}} {{.Path}}</code></a> {{.Summary}}</li>
{{end}}{{end}}</ul>
</nav>
{{range .Groups}}
<h2 id="tag-{{.Name}}">{{.Name}}</h2>
<p>{{.Description}}</p>
{{range .Endpoints}}
<section class="endpoint" id="{{.Anchor}}">
<div class="head"><span class="method {{lower .Method}}">{{.Method}}</span><span class="path">{{.Path}}</span><h3>{{.Summary}}</h3></div>
{{with .Description}}<p>{{.}}</p>{{end}}
<h4>Authentication</h4>
<p class="auth">{{.Auth.Text}}{{range .Auth.Schemes}} See <a href="#security-{{.}}">{{.}}</a>.{{end}}</p>
{{with .Params}}<h4>Parameters</h4>
<table><tr><th>Name</th><th>In</th><th>Type</th><th>Description</th></tr>
{{range .}}{{template "field" .}}{{end}}</table>
{{end}}
{{with .Body}}<h4>Request body{{if .Required}} <span class="req">required</span>{{end}}</h4>
<p><code>{{.MediaType}}</code>: {{template "type" .Shape}}. {{.ShapeDescription}}</p>
<p>{{.Description}}</p>
{{with .Fields}}<table><tr><th>Field</th><th></th><th>Type</th><th>Description</th></tr>
{{range .}}{{template "field" .}}{{end}}</table>{{end}}
{{end}}
<h4>Responses</h4>
{{range .Responses}}<div class="response">
<p><span class="status s{{slice .Status 0 1}}">{{.Status}}</span> {{.Description}}</p>
{{with .Headers}}<table><tr><th>Header</th><th></th><th>Type</th><th>Description</th></tr>
{{range .}}{{template "field" .}}{{end}}</table>{{end}}
{{if .MediaType}}<p><code>{{.MediaType}}</code>: {{template "type" .Shape}}{{with .Outline}} <code class="outline">{{.}}</code>{{end}}</p>{{end}}
</div>
{{end}}
<h4>Example</h4>
<pre>{{.Curl}}</pre>
</section>
{{end}}{{end}}
<h2 id="schemas">Schemas</h2>
{{range .Schemas}}
<section class="endpoint" id="schema-{{.Name}}">
<h3>{{.Name}}</h3>
{{with .Description}}<p>{{.}}</p>{{end}}
{{if .Fields}}<table><tr><th>Field</th><th></th><th>Type</th><th>Description</th></tr>
{{range .Fields}}{{template "field" .}}{{end}}</table>
{{else}}<p>{{template "type" .Type}}{{with .Constraints}}<span class="constraints">{{range .}}; <code>{{.}}</code>{{end}}</span>{{end}}</p>{{end}}
</section>
{{end}}
</main>
</body>
</html>
{{define "type"}}{{if .Link}}<a href="#{{.Link}}"><code>{{.Text}}</code></a>{{else}}<code>{{.Text}}</code>{{end}}{{end}}
{{define "field"}}<tr><td class="name">{{.Name}}</td><td>{{if .In}}{{.In}}{{end}}{{if .Required}} <span class="req">required</span>{{end}}</td><td class="type">{{template "type" .Type}}{{with .Constraints}}<div class="constraints">{{range .}}<div><code>{{.}}</code></div>{{end}}</div>{{end}}</td><td>{{.Description}}{{with .DetailSchema}} <span class="constraints">(<a href="#schema-{{.}}">{{.}}</a>)</span>{{end}}</td></tr>
{{end}}`))
