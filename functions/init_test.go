package functions_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backupflow/backupflow/pkg/app"
)

// TestNoPatternCompiledAtInit: no package a function links compiles a
// regexp in a package-level variable's initialiser, where every cold start
// pays for it before the first invocation, whatever that invocation does
// (pkg/chatapp's run-name pattern, `{0,99}`, was 0.36 ms of the Lambda
// chatops function's init). Compile on first use, or check by hand.
func TestNoPatternCompiledAtInit(t *testing.T) {
	const module = "github.com/backupflow/backupflow/"
	seen := map[string]bool{}
	for _, f := range app.Functions {
		for _, tag := range []string{"scf", "lambda.norpc"} {
			out, err := exec.Command("go", "list", "-deps", "-tags", tag, "-f",
				"{{if not .Standard}}{{.ImportPath}} {{.Dir}} {{join .GoFiles \" \"}}{{end}}", "./"+f.Name).Output()
			if err != nil {
				t.Fatalf("go list %s (%s): %v", f.Name, tag, err)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				fs := strings.Fields(line)
				if len(fs) < 3 || !strings.HasPrefix(fs[0], module) {
					continue
				}
				for _, name := range fs[2:] {
					path := filepath.Join(fs[1], name)
					if seen[path] {
						continue
					}
					seen[path] = true
					for _, at := range patternsAtInit(t, path) {
						t.Errorf("%s (linked by %s, -tags %s): a package-level variable compiles a regexp at init", at, f.Name, tag)
					}
				}
			}
		}
	}
	if len(seen) == 0 {
		t.Fatal("go list named no file of ours; the check proved nothing")
	}
}

// patternsAtInit finds regexp.Compile/MustCompile calls in package-level
// variable initialisers, outside function literals (a sync.OnceValue's
// function runs on first use).
func patternsAtInit(t *testing.T, path string) []string {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, d := range file.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		ast.Inspect(gd, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
					if id, ok := sel.X.(*ast.Ident); ok && id.Name == "regexp" && strings.Contains(sel.Sel.Name, "Compile") {
						found = append(found, fset.Position(n.Pos()).String())
					}
				}
			}
			return true
		})
	}
	return found
}
