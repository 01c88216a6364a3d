package main

// The /docs page: Swagger UI from the binary's own files.

import (
	"bytes"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDocsPage: /docs is Swagger UI's page, loading only the service's own
// files (and so nothing from another host), under a CSP that would refuse
// anything else, and pointing Swagger UI at /openapi.json without the
// validator badge.
func TestDocsPage(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	rec := serve(t, h, "GET", "/docs", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /docs: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %s", csp, want)
		}
	}
	page := rec.Body.String()
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(refs) != 4 {
		t.Errorf("the page loads %d files, want the 4 of /docs/: %q", len(refs), refs)
	}
	for _, ref := range refs {
		asset, ok := strings.CutPrefix(ref[1], "/docs/")
		if _, known := docsAssets[asset]; !ok || !known {
			t.Errorf("the page loads %q, not one of the service's /docs/ files", ref[1])
		}
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "style=") {
		t.Error("the page has inline script or style, which its CSP refuses")
	}
	init := serve(t, h, "GET", "/docs/swagger-init.js", "").Body.String()
	for _, want := range []string{`url: "/openapi.json"`, "validatorUrl: null", "SwaggerUIBundle.presets.apis"} {
		if !strings.Contains(init, want) {
			t.Errorf("swagger-init.js lacks %s", want)
		}
	}
	if regexp.MustCompile(`https?://`).MatchString(init) {
		t.Error("swagger-init.js names another host")
	}
}

// TestDocsAssets: each file is the vendored one, byte for byte, with its
// media type and a strong ETag that a 304 honours; another name is a JSON
// 404, and nothing under /docs/ is a directory listing.
func TestDocsAssets(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	for name, a := range docsAssets {
		want, err := os.ReadFile(a.file)
		if err != nil {
			t.Fatal(err)
		}
		rec := serve(t, h, "GET", "/docs/"+name, "")
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != a.mediaType || !bytes.Equal(rec.Body.Bytes(), want) {
			t.Errorf("/docs/%s: %d %q, %d bytes (want %d)", name, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len(), len(want))
		}
		tag := rec.Header().Get("ETag")
		if again := serve(t, h, "GET", "/docs/"+name, "", "If-None-Match", tag); tag == "" || again.Code != http.StatusNotModified || again.Body.Len() != 0 {
			t.Errorf("/docs/%s with If-None-Match %s: %d, %d bytes; want a 304 without a body", name, tag, again.Code, again.Body.Len())
		}
	}
	for _, target := range []string{"/docs/index.html", "/docs/swagger-ui-bundle.js.map", "/docs/..%2Fopenapi.json", "/docs/LICENSE"} {
		wantDetail(t, serve(t, h, "GET", target, ""), http.StatusNotFound, "Not Found")
	}
}

// TestSwaggerUIIsThePinnedVersion: the vendored bundle is the version
// third_party/swagger-ui/VERSION names, with its licence beside it.
func TestSwaggerUIIsThePinnedVersion(t *testing.T) {
	t.Parallel()
	version := regexp.MustCompile(`(?m)^version=(\S+)$`).FindStringSubmatch(readFile(t, "third_party/swagger-ui/VERSION"))
	if version == nil {
		t.Fatal("third_party/swagger-ui/VERSION names no version")
	}
	if !strings.Contains(readFile(t, "third_party/swagger-ui/swagger-ui-bundle.js"), `"`+version[1]+`"`) {
		t.Errorf("swagger-ui-bundle.js is not version %s", version[1])
	}
	if !strings.Contains(readFile(t, "third_party/swagger-ui/LICENSE"), "Apache License") {
		t.Error("third_party/swagger-ui/LICENSE is not Swagger UI's Apache licence")
	}
}
