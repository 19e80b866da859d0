//go:build browser

package reports

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPaths are where the browser test looks for Chromium, in order.
var chromiumPaths = []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"}

// findChromium is the browser to run, "" when none is installed, and
// where it looked. $CHROMIUM, if set, is the only place looked.
func findChromium() (string, []string) {
	paths := chromiumPaths
	if p := os.Getenv("CHROMIUM"); p != "" {
		paths = []string{p}
	}
	for _, name := range paths {
		if p, err := exec.LookPath(name); err == nil {
			return p, paths
		}
	}
	return "", paths
}

// TestBrowserReport renders a report of every kind of result in headless
// Chromium, served from a loopback server, and checks what a reader would
// see: the page loads with no console error or exception, fetches nothing
// but itself, and every plot has decoded to an image of non-zero size. It
// saves a full-page screenshot (PNG) and the page printed (PDF, through
// the print style sheet) under $ARTIFACTS, else the test's artifact
// directory (go test -artifacts), and prints their paths.
//
// Run it with go test -tags browser -run Browser ./reports. Outside CI a
// machine without Chromium skips it; with CI=true it fails.
func TestBrowserReport(t *testing.T) {
	browser, looked := findChromium()
	if browser == "" {
		msg := fmt.Sprintf("no Chromium found (looked for %s): install it (apt-get install -y chromium) or name it in $CHROMIUM", strings.Join(looked, ", "))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	dir := resultsDir(t)
	res, err := ReadResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, res, HTMLOptions{Dir: dir, Generated: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, HTMLFile), page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// Every request the browser makes is recorded: the page must need
	// none but its own.
	var mu sync.Mutex
	var requests []string
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.URL.Path)
		mu.Unlock()
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(browser),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("window-size", "1366,900"), // a laptop screen
		chromedp.UserDataDir(t.TempDir()),
	)
	defer acancel()
	tctx, tcancel := chromedp.NewContext(actx)
	defer tcancel()

	// Subscribe before navigating, so no message is lost; read until the
	// tab closes.
	messages := chromedp.Console(tctx)
	var console []chromedp.ConsoleMessage
	read := make(chan struct{})
	go func() {
		defer close(read)
		for m, err := range messages {
			if err != nil {
				return
			}
			console = append(console, m)
		}
	}()

	url := srv.URL + "/" + HTMLFile
	if err := chromedp.Do(tctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("load %s: %v", url, err)
	}
	type imgState struct {
		Alt                string
		Complete           bool
		NaturalW, NaturalH float64
		BoxW, BoxH         float64
	}
	imgs, err := chromedp.Run(tctx, chromedp.Evaluate[[]imgState](`Array.from(document.images).map(i => {
		const r = i.getBoundingClientRect();
		return {Alt: i.alt, Complete: i.complete, NaturalW: i.naturalWidth, NaturalH: i.naturalHeight, BoxW: r.width, BoxH: r.height};
	})`))
	if err != nil {
		t.Fatal(err)
	}
	svgs, err := chromedp.Run(tctx, chromedp.Evaluate[[]imgState](`Array.from(document.querySelectorAll('svg')).map(s => {
		const r = s.getBoundingClientRect();
		return {Alt: s.getAttribute('aria-label') || 'inline svg', Complete: true, NaturalW: r.width, NaturalH: r.height, BoxW: r.width, BoxH: r.height};
	})`))
	if err != nil {
		t.Fatal(err)
	}
	// Latency (3), throughput (2) and engine (2) plots, and the heatmap.
	if all := append(imgs, svgs...); len(all) < 8 {
		t.Errorf("%d plots on the page, want at least 8", len(all))
	}
	for _, im := range append(imgs, svgs...) {
		if !im.Complete || im.NaturalW <= 0 || im.NaturalH <= 0 || im.BoxW <= 0 || im.BoxH <= 0 {
			t.Errorf("plot %q did not load: complete %v, natural %v×%v, shown %v×%v", im.Alt, im.Complete, im.NaturalW, im.NaturalH, im.BoxW, im.BoxH)
		}
	}
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	out := os.Getenv("ARTIFACTS")
	if out == "" {
		out = t.ArtifactDir()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(out, "report-screenshot.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(shot, []byte("\x89PNG")) {
		t.Errorf("%s is not a PNG", path)
	}
	fmt.Printf("report screenshot: %s\n", path)
	t.Logf("report screenshot: %s", path)
	// Printed (the print style sheet), as a PDF beside it.
	pdf, err := chromedp.Run(tctx, chromedp.PrintToPDF())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Errorf("printing gave no PDF")
	}
	pdfPath := filepath.Join(out, "report.pdf")
	if err := os.WriteFile(pdfPath, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("report printed: %s\n", pdfPath)

	tcancel() // ends the console's iteration
	<-read
	for _, m := range console {
		if m.IsException() || m.Type == "error" || m.Type == "warning" {
			t.Errorf("console %s: %s", m.Type, m)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	others := slices.DeleteFunc(slices.Clone(requests), func(p string) bool { return p == "/"+HTMLFile })
	if len(others) > 0 {
		t.Errorf("the page fetched %v: it must be self-contained", others)
	}
}
