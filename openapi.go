package main

// The API's own description: openapi.json, embedded and served as is at
// /openapi.json, and the Go model of the parts of it that /docs shows.

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

//go:embed openapi.json
var openapiJSON []byte

// handleOpenAPI answers GET /openapi.json with the embedded document.
func handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(openapiJSON)
	})
}

type apiDoc struct {
	Info struct {
		Title       string `json:"title"`
		Version     string `json:"version"`
		Summary     string `json:"summary"`
		Description string `json:"description"`
	} `json:"info"`
	Tags []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"tags"`
	// Security is the default requirement of every operation; nil when
	// the document sets none.
	Security   []apiSecurityRequirement `json:"security"`
	Paths      map[string]apiPathItem   `json:"paths"`
	Components struct {
		SecuritySchemes map[string]apiSecurityScheme `json:"securitySchemes"`
		Parameters      map[string]apiParameter      `json:"parameters"`
		Headers         map[string]apiHeader         `json:"headers"`
		Schemas         map[string]*apiSchema        `json:"schemas"`
		Responses       map[string]apiResponse       `json:"responses"`
	} `json:"components"`
}

type apiPathItem struct {
	Parameters []apiParameter `json:"parameters"`
	Get        *apiOperation  `json:"get"`
	Post       *apiOperation  `json:"post"`
	Put        *apiOperation  `json:"put"`
	Patch      *apiOperation  `json:"patch"`
	Delete     *apiOperation  `json:"delete"`
}

// operations returns the path's operations by method, in the order the
// page lists them.
func (p apiPathItem) operations() []methodOperation {
	var ops []methodOperation
	for _, mo := range []methodOperation{{"GET", p.Get}, {"POST", p.Post}, {"PUT", p.Put}, {"PATCH", p.Patch}, {"DELETE", p.Delete}} {
		if mo.op != nil {
			ops = append(ops, mo)
		}
	}
	return ops
}

type methodOperation struct {
	method string
	op     *apiOperation
}

type apiOperation struct {
	Tags        []string                 `json:"tags"`
	Summary     string                   `json:"summary"`
	Description string                   `json:"description"`
	Security    []apiSecurityRequirement `json:"security"` // nil: the document's
	Parameters  []apiParameter           `json:"parameters"`
	RequestBody *apiRequestBody          `json:"requestBody"`
	Responses   map[string]apiResponse   `json:"responses"`
}

// apiSecurityRequirement names the schemes that together satisfy it, each
// with its scopes; the empty requirement is satisfied by no credentials.
type apiSecurityRequirement map[string][]string

// apiSecurityScheme is a components.securitySchemes entry; the page shows
// HTTP schemes (bearer, basic…), the kind the document uses.
type apiSecurityScheme struct {
	Type         string `json:"type"`
	Scheme       string `json:"scheme"`
	BearerFormat string `json:"bearerFormat"`
	Description  string `json:"description"`
}

type apiParameter struct {
	Ref         string          `json:"$ref"`
	Name        string          `json:"name"`
	In          string          `json:"in"`
	Description string          `json:"description"`
	Required    bool            `json:"required"`
	Schema      *apiSchema      `json:"schema"`
	Example     json.RawMessage `json:"example"`
}

type apiRequestBody struct {
	Required    bool                    `json:"required"`
	Description string                  `json:"description"`
	Content     map[string]apiMediaType `json:"content"`
}

type apiMediaType struct {
	Schema  *apiSchema      `json:"schema"`
	Example json.RawMessage `json:"example"` // raw, to keep the document's key order
}

type apiResponse struct {
	Ref         string                  `json:"$ref"`
	Description string                  `json:"description"`
	Headers     map[string]apiHeader    `json:"headers"`
	Content     map[string]apiMediaType `json:"content"`
}

type apiHeader struct {
	Ref         string     `json:"$ref"`
	Description string     `json:"description"`
	Required    bool       `json:"required"`
	Schema      *apiSchema `json:"schema"`
}

// apiSchema is the JSON Schema vocabulary the document uses.
type apiSchema struct {
	Ref         string                `json:"$ref"`
	Type        schemaTypes           `json:"type"`
	Description string                `json:"description"`
	Properties  map[string]*apiSchema `json:"properties"`
	Required    []string              `json:"required"`
	Items       *apiSchema            `json:"items"`
	PrefixItems []*apiSchema          `json:"prefixItems"`
	AnyOf       []*apiSchema          `json:"anyOf"`
	Enum        []json.RawMessage     `json:"enum"`
	Const       json.RawMessage       `json:"const"`
	MinLength   *int                  `json:"minLength"`
	MaxLength   *int                  `json:"maxLength"`
	MinItems    *int                  `json:"minItems"`
	Minimum     *float64              `json:"minimum"`
	Maximum     *float64              `json:"maximum"`
	Pattern     string                `json:"pattern"`
	Format      string                `json:"format"`
}

// schemaTypes is the "type" keyword: one name or a list of them.
type schemaTypes []string

func (t *schemaTypes) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*t = schemaTypes{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("type must be a string or a list of strings: %w", err)
	}
	*t = many
	return nil
}

// refName returns the last part of a local reference such as
// "#/components/schemas/TaskRead", checking its prefix.
func refName(ref, prefix string) (string, error) {
	name, ok := strings.CutPrefix(ref, prefix)
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("unsupported $ref %q (want %s<name>)", ref, prefix)
	}
	return name, nil
}

const (
	schemaRefPrefix    = "#/components/schemas/"
	parameterRefPrefix = "#/components/parameters/"
	headerRefPrefix    = "#/components/headers/"
	responseRefPrefix  = "#/components/responses/"
)

// resolve follows a schema's $ref, if any, and lays the sibling keywords
// the document uses (description, properties) over the target, as JSON
// Schema 2020-12 applies both. name is the target's name, or "".
func resolve(d *apiDoc, s *apiSchema) (resolved *apiSchema, name string, err error) {
	if s == nil {
		return nil, "", fmt.Errorf("missing schema")
	}
	if s.Ref == "" {
		return s, "", nil
	}
	name, err = refName(s.Ref, schemaRefPrefix)
	if err != nil {
		return nil, "", err
	}
	target, ok := d.Components.Schemas[name]
	if !ok {
		return nil, "", fmt.Errorf("no schema %q", name)
	}
	merged := *target
	if s.Description != "" {
		merged.Description = s.Description
	}
	if len(s.Properties) > 0 {
		merged.Properties = make(map[string]*apiSchema)
		for k, v := range target.Properties {
			merged.Properties[k] = v
		}
		for k, v := range s.Properties {
			merged.Properties[k] = v
		}
	}
	return &merged, name, nil
}

func (t schemaTypes) is(name string) bool { return slices.Contains(t, name) }
