package main

// Checks of the documentation a user reads: every relative link leads to a
// file of the repository (and to a heading in it, when it names one), the
// documents speak of the service in its own words, and the README stays a
// short front door.

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// markdownDocs returns the Markdown files a user reads, relative to the
// repository root, with forward slashes: README.md, ARCHITECTURE.md,
// docs/*.md and bench/README.md.
func markdownDocs(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md", "ARCHITECTURE.md", "bench/README.md"}
	docs, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("docs/ holds no Markdown file")
	}
	for _, d := range docs {
		files = append(files, filepath.ToSlash(d))
	}
	return files
}

// fenceRE matches a line that opens or closes a fenced code block.
var fenceRE = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})")

// proseLines returns doc's lines with those of fenced code blocks blanked,
// so that line numbers stay right and code is not read as Markdown.
func proseLines(doc string) []string {
	lines := strings.Split(doc, "\n")
	fence := ""
	for i, line := range lines {
		if m := fenceRE.FindStringSubmatch(line); m != nil {
			switch {
			case fence == "":
				fence = m[1]
			case m[1][0] == fence[0] && len(m[1]) >= len(fence):
				fence = ""
			}
			lines[i] = ""
			continue
		}
		if fence != "" {
			lines[i] = ""
		}
	}
	return lines
}

var (
	codeSpanRE = regexp.MustCompile("``[^`]*``|`[^`]*`")
	// inlineLinkRE matches [text](target) and ![alt](target), with an
	// optional <…> around the target and an optional "title".
	inlineLinkRE = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)`)
	// refLinkRE matches a link reference definition: [label]: target.
	refLinkRE = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?`)
	headingRE = regexp.MustCompile(`^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$`)
	schemeRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
)

// mdLink is one link target found in a document, with its line.
type mdLink struct {
	line   int
	target string
}

// markdownLinks returns the targets of doc's inline links and link
// reference definitions, outside code.
func markdownLinks(doc string) []mdLink {
	var links []mdLink
	for i, line := range proseLines(doc) {
		line = codeSpanRE.ReplaceAllString(line, "")
		for _, m := range inlineLinkRE.FindAllStringSubmatch(line, -1) {
			links = append(links, mdLink{i + 1, m[1]})
		}
		if m := refLinkRE.FindStringSubmatch(line); m != nil {
			links = append(links, mdLink{i + 1, m[1]})
		}
	}
	return links
}

// githubSlug is the anchor GitHub gives a heading: the text lower-cased,
// each space turned into a hyphen, and every other character dropped but
// letters, digits, hyphens and underscores. Code spans count by their text
// and links by their label.
func githubSlug(heading string) string {
	heading = inlineLinkRE.ReplaceAllStringFunc(heading, func(link string) string {
		return link[strings.Index(link, "[")+1 : strings.Index(link, "]")]
	})
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// headingAnchors returns the anchors of doc's headings, numbered as GitHub
// numbers repeats: "a", "a-1", "a-2".
func headingAnchors(doc string) map[string]bool {
	anchors := make(map[string]bool)
	seen := make(map[string]int)
	for _, line := range proseLines(doc) {
		m := headingRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		slug := githubSlug(m[1])
		if n := seen[slug]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
	}
	return anchors
}

// checkLink returns what is wrong with a link from the document from (a
// path relative to the repository root), or "" when it leads somewhere.
func checkLink(from, target string) string {
	if target == "" {
		return "empty link"
	}
	if schemeRE.MatchString(target) {
		if !strings.HasPrefix(target, "https://") {
			return "leads outside the repository, and not to a public https:// page"
		}
		return ""
	}
	file, fragment, _ := strings.Cut(target, "#")
	if strings.HasPrefix(file, "/") {
		return "is absolute; link relative to the document"
	}
	resolved := from
	if file != "" {
		unescaped, err := url.PathUnescape(file)
		if err != nil {
			return "is not a valid path"
		}
		resolved = path.Join(path.Dir(from), unescaped)
		if resolved == ".." || strings.HasPrefix(resolved, "../") {
			return "leads outside the repository"
		}
	}
	content, err := os.ReadFile(filepath.FromSlash(resolved))
	if info, statErr := os.Stat(filepath.FromSlash(resolved)); statErr == nil && info.IsDir() {
		if fragment != "" {
			return "names a heading in a directory"
		}
		return ""
	}
	if err != nil {
		return fmt.Sprintf("leads to %s, which does not exist", resolved)
	}
	if fragment == "" {
		return ""
	}
	if !strings.HasSuffix(resolved, ".md") {
		return fmt.Sprintf("names a heading in %s, which is not Markdown", resolved)
	}
	if !headingAnchors(string(content))[fragment] {
		return fmt.Sprintf("names #%s, which is no heading of %s", fragment, resolved)
	}
	return ""
}

// TestMarkdownLinksResolve: every link in the documentation leads to a file
// of the repository, and to a heading of it when it names one, or to a
// public https:// page.
func TestMarkdownLinksResolve(t *testing.T) {
	t.Run("slugs", func(t *testing.T) {
		for heading, want := range map[string]string{
			"Design decisions":               "design-decisions",
			"The .env file":                  "the-env-file",
			"`If-Match` and 412s":            "if-match-and-412s",
			"user_id":                        "user_id",
			"Why: a test (really)!":          "why-a-test-really",
			"Über Größe":                     "über-größe",
			"See [the API](docs/api.md) now": "see-the-api-now",
		} {
			if got := githubSlug(heading); got != want {
				t.Errorf("githubSlug(%q) = %q, want %q", heading, got, want)
			}
		}
	})
	for _, name := range markdownDocs(t) {
		doc := readFile(t, name)
		for _, link := range markdownLinks(doc) {
			if why := checkLink(name, link.target); why != "" {
				t.Errorf("%s:%d: link %q %s", name, link.line, link.target, why)
			}
		}
	}
}

// outsideWordsRE matches references to material outside the repository,
// which users never see: the plan and contract the service started from,
// and the directory they were kept in. A line break may split a phrase.
var outsideWordsRE = regexp.MustCompile(`(?i)seed(?:\s|\\n|[-_])*plan|\.\./shared|contract\.md`)

// TestNoOutsideWords: what a user reads describes the service in its own
// words, never by reference to documents outside the repository.
func TestNoOutsideWords(t *testing.T) {
	files := append(markdownDocs(t), "openapi.json", ".env.example")
	for _, name := range files {
		doc := readFile(t, name)
		for _, loc := range outsideWordsRE.FindAllStringIndex(doc, -1) {
			line := strings.Count(doc[:loc[0]], "\n") + 1
			t.Errorf("%s:%d: %q refers to material outside the repository; describe the service in its own words",
				name, line, doc[loc[0]:loc[1]])
		}
	}
}

// maxReadmeLines keeps README.md a front door: what, run, test, try,
// configure, and links to the rest.
const maxReadmeLines = 250

// TestReadmeIsTheFrontDoor: README.md is short, and shows how to run and
// how to test the service as commands.
func TestReadmeIsTheFrontDoor(t *testing.T) {
	doc := readFile(t, "README.md")
	lines := strings.Count(doc, "\n")
	if doc != "" && !strings.HasSuffix(doc, "\n") {
		lines++
	}
	if lines > maxReadmeLines {
		t.Errorf("README.md has %d lines, more than %d: move the detail to docs/", lines, maxReadmeLines)
	}
	// The commands must stand on a line of their own in a code block.
	prose := proseLines(doc)
	commands := make(map[string]bool)
	for i, line := range strings.Split(doc, "\n") {
		if prose[i] == "" && !fenceRE.MatchString(line) {
			commands[strings.TrimSpace(line)] = true
		}
	}
	for _, command := range []string{"go run .", "go test ./..."} {
		if !commands[command] {
			t.Errorf("README.md shows no %q command in a code block", command)
		}
	}
}
