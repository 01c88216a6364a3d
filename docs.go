package main

// The /docs page: Swagger UI, as FastAPI serves it, with Try it out and
// Authorize. Its files are embedded in the binary: Swagger UI's own, pinned
// and vendored in third_party/swagger-ui (scripts/update-swagger-ui.sh
// updates them), and the page and its start-up script in docsui/. The page
// loads nothing from another host, and its Content-Security-Policy would
// refuse it if it tried.

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
)

//go:embed third_party/swagger-ui/swagger-ui-bundle.js third_party/swagger-ui/swagger-ui.css
//go:embed third_party/swagger-ui/favicon-32x32.png docsui
var docsFiles embed.FS

// docsCSP is the tightest policy Swagger UI works under (checked in
// Chromium by .ci/run): the service's own scripts, styles and images, the
// data: images its style sheet holds, and calls to the service only; no
// inline script or style, no eval, no frame.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docsAssets are the files under /docs/: each name, where it is embedded,
// and its media type.
var docsAssets = map[string]struct{ file, mediaType string }{
	"swagger-ui-bundle.js": {"third_party/swagger-ui/swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
	"swagger-ui.css":       {"third_party/swagger-ui/swagger-ui.css", "text/css; charset=utf-8"},
	"favicon-32x32.png":    {"third_party/swagger-ui/favicon-32x32.png", "image/png"},
	"swagger-init.js":      {"docsui/swagger-init.js", "text/javascript; charset=utf-8"},
}

// handleDocs answers GET /docs with Swagger UI's page.
func handleDocs() http.Handler {
	return serveEmbedded("docsui/index.html", "text/html; charset=utf-8")
}

// handleDocsAsset answers GET /docs/{asset} with one of docsAssets; any
// other name is a 404.
func handleDocsAsset(log *slog.Logger) http.Handler {
	handlers := make(map[string]http.Handler, len(docsAssets))
	for name, a := range docsAssets {
		handlers[name] = serveEmbedded(a.file, a.mediaType)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := handlers[r.PathValue("asset")]
		if !ok {
			writeError(w, r, log, errNoRoute)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// serveEmbedded serves one embedded file with its media type, the page's
// Content-Security-Policy, and a strong ETag of its content, so a browser
// revalidates it (304) rather than downloading it again, and never keeps
// a copy from an older binary. It panics if the file is not embedded, as
// regexp.MustCompile does on a bad constant: the tests load every one.
func serveEmbedded(file, mediaType string) http.Handler {
	content, err := fs.ReadFile(docsFiles, file)
	if err != nil {
		panic(fmt.Sprintf("embedded %s: %v", file, err))
	}
	sum := sha256.Sum256(content)
	tag := `"` + hex.EncodeToString(sum[:12]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", mediaType)
		h.Set("Content-Security-Policy", docsCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", tag)
		if noneMatch(r.Header, tag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(content)))
		w.WriteHeader(http.StatusOK)
		w.Write(content)
	})
}
