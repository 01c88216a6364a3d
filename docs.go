package main

// The /docs page: an HTML reference rendered once, at start-up, from the
// embedded openapi.json (see openapi.go), self-contained and offline.

import (
	"bytes"
	_ "embed"
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
	var err error
	if ep.Auth, err = authOf(d, security); err != nil {
		return docsEndpoint{}, err
	}
	examples := make(map[string]string)
	if ep.Params, err = paramsOf(d, slices.Concat(item.Parameters, op.Parameters), examples); err != nil {
		return docsEndpoint{}, err
	}
	var bodyExample []byte
	if ep.Body, bodyExample, err = bodyOf(d, op.RequestBody); err != nil {
		return docsEndpoint{}, fmt.Errorf("request body: %w", err)
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

// paramsOf describes an operation's parameters, resolving references, and
// records each one's example in examples for the curl line.
func paramsOf(d *apiDoc, params []apiParameter, examples map[string]string) ([]docsField, error) {
	var fields []docsField
	for _, p := range params {
		if p.Ref != "" {
			name, err := refName(p.Ref, parameterRefPrefix)
			if err != nil {
				return nil, err
			}
			resolved, ok := d.Components.Parameters[name]
			if !ok {
				return nil, fmt.Errorf("no parameter %q", name)
			}
			p = resolved
		}
		f, err := fieldOf(d, p.Name, p.Schema, p.Required, p.Description)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", p.Name, err)
		}
		f.In = p.In
		fields = append(fields, f)
		var example string
		if json.Unmarshal(p.Example, &example) == nil {
			examples[p.Name] = example
		}
	}
	return fields, nil
}

// bodyOf describes a request body, if the operation has one, and returns
// its example compacted for the curl line.
func bodyOf(d *apiDoc, rb *apiRequestBody) (*docsBody, []byte, error) {
	if rb == nil {
		return nil, nil, nil
	}
	mediaType, mt, err := onlyContent(rb.Content)
	if err != nil {
		return nil, nil, err
	}
	body := &docsBody{Required: rb.Required, MediaType: mediaType, Description: rb.Description}
	if body.Shape, body.Fields, body.ShapeDescription, err = shapeOf(d, mt.Schema, true); err != nil {
		return nil, nil, err
	}
	if len(mt.Example) == 0 {
		return body, nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, mt.Example); err != nil {
		return nil, nil, fmt.Errorf("example: %w", err)
	}
	return body, buf.Bytes(), nil
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

// docsTemplate renders a docsPage; html/template escapes every text from
// the document.
var docsTemplate = template.Must(template.New("docs").Funcs(template.FuncMap{
	"lower": strings.ToLower,
}).Parse(docsHTML))

// docsHTML is the page's template.
//
//go:embed docs.html
var docsHTML string
