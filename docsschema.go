package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// How a schema of the OpenAPI document reads on the /docs page: its type in
// words, its fields, and its constraints (lengths, patterns, ranges).

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
