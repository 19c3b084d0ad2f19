package descriptor

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// This file reads the cloud calls out of the Go source, so the policy tests
// compare the policies with the code rather than with a second hand-kept list.
//
// Recognised call shapes (the ones the adapters use):
//   - p.call(ctx, region, "Action", ...) and d.call(ctx, "Action", ...):
//     the first string literal is an action of the package's CAM service;
//   - tencent.Action{Service: "tdmq", Name: "SendCmqMsg"} with literal fields;
//   - cosError("HeadObject", ...): a COS API the store called;
//   - GetPresignedURL2(ctx, http.MethodGet, ...): a presigned GET, which COS
//     authorizes as GetObject of the signer;
//   - d.call(ctx, "X", ...) in sqsqueue and s.do(ctx, "X", ...) in s3store:
//     SQS or S3 operation X (their service is "sqs." or "s3." below);
//   - s.signer.Presign(...) in s3store: a presigned GET, authorized as
//     s3:GetObject of the signer.
//
// Calls are followed inside a package from an entry point: plain function
// calls by name, and method calls on the method's own receiver.

// scanned is one package's functions with the actions each performs directly
// and the package functions it calls.
type scanned struct {
	dir   string
	funcs map[string]*scannedFunc // "Recv.Name" for methods, "Name" for functions
}

type scannedFunc struct {
	actions map[string]bool
	calls   map[string]bool
}

// scanPackage parses the non-test Go files of dir (relative to the repo
// root). camService names the CAM service of "call" actions; empty means the
// package's own `service` constant.
func scanPackage(t *testing.T, dir, camService string) *scanned {
	t.Helper()
	fset := token.NewFileSet()
	ents, err := os.ReadDir(filepath.Join(repoRoot, dir))
	if err != nil {
		t.Fatalf("scan %s: %v", dir, err)
	}
	var files []*ast.File
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(repoRoot, dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("scan %s: %v", dir, err)
		}
		files = append(files, f)
	}
	if camService == "" {
		camService = constString(files, "service")
		if camService == "" {
			t.Fatalf("scan %s: no service constant", dir)
		}
	}
	s := &scanned{dir: dir, funcs: map[string]*scannedFunc{}}
	for _, f := range files {
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			key, recv := fd.Name.Name, ""
			if fd.Recv != nil && len(fd.Recv.List) == 1 {
				typ := fd.Recv.List[0].Type
				if st, ok := typ.(*ast.StarExpr); ok {
					typ = st.X
				}
				if id, ok := typ.(*ast.Ident); ok {
					key = id.Name + "." + fd.Name.Name
					if len(fd.Recv.List[0].Names) == 1 {
						recv = fd.Recv.List[0].Names[0].Name
					}
				}
			}
			sf := &scannedFunc{actions: map[string]bool{}, calls: map[string]bool{}}
			s.funcs[key] = sf
			recvType, _, _ := strings.Cut(key, ".")
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					switch fun := n.Fun.(type) {
					case *ast.Ident:
						sf.calls[fun.Name] = true
						if fun.Name == "cosError" {
							if a := firstString(n.Args); a != "" {
								sf.actions["name/cos:"+a] = true
							}
						}
					case *ast.SelectorExpr:
						if id, ok := fun.X.(*ast.Ident); ok && recv != "" && id.Name == recv {
							sf.calls[recvType+"."+fun.Sel.Name] = true
						}
						switch fun.Sel.Name {
						case "call", "read", "do": // read: a call that retries (discovery); do: an S3 request
							if a := firstString(n.Args); a != "" {
								sf.actions[action(camService, a)] = true
							}
						case "Presign":
							if camService == "s3." {
								sf.actions["s3.GetObject"] = true
							}
						case "GetPresignedURL", "GetPresignedURL2", "GetPresignedURL3":
							sf.actions["name/cos:GetObject"] = true
						}
					}
				case *ast.CompositeLit:
					sel, ok := n.Type.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					pkg, _ := sel.X.(*ast.Ident)
					if pkg == nil {
						return true
					}
					switch {
					case pkg.Name == "tencent" && sel.Sel.Name == "Action":
						svc, name := litField(n, "Service"), litField(n, "Name")
						if svc != "" && name != "" {
							sf.actions[svc+":"+name] = true
						}
					}
				}
				return true
			})
		}
	}
	return s
}

// reach returns the actions of entry and everything it calls in the
// package. An unknown entry fails the test: the capability tables must name
// functions that exist.
func (s *scanned) reach(t *testing.T, entry string) map[string]bool {
	t.Helper()
	if _, ok := s.funcs[entry]; !ok {
		t.Fatalf("%s: no function %s (capability table out of date?)", s.dir, entry)
	}
	out, seen := map[string]bool{}, map[string]bool{}
	var walk func(string)
	walk = func(k string) {
		if seen[k] {
			return
		}
		seen[k] = true
		f, ok := s.funcs[k]
		if !ok {
			return
		}
		for a := range f.actions {
			out[a] = true
		}
		for c := range f.calls {
			walk(c)
		}
	}
	walk(entry)
	return out
}

// all returns every action anywhere in the package.
func (s *scanned) all() map[string]bool {
	out := map[string]bool{}
	for _, f := range s.funcs {
		for a := range f.actions {
			out[a] = true
		}
	}
	return out
}

// action names a scanned call: "sqs.X" for the AWS packages, whose
// service ends in a dot, "service:X" for Tencent's.
func action(service, name string) string {
	if strings.HasSuffix(service, ".") {
		return service + name
	}
	return service + ":" + name
}

func firstString(args []ast.Expr) string {
	for _, a := range args {
		if bl, ok := a.(*ast.BasicLit); ok && bl.Kind == token.STRING {
			// Skip empty literals: p.call(ctx, "", "Action") passes an
			// empty region first.
			if v, err := strconv.Unquote(bl.Value); err == nil && v != "" {
				return v
			}
		}
	}
	return ""
}

func litField(cl *ast.CompositeLit, name string) string {
	for _, e := range cl.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		if k, ok := kv.Key.(*ast.Ident); ok && k.Name == name {
			return firstString([]ast.Expr{kv.Value})
		}
	}
	return ""
}

func constString(files []*ast.File, name string) string {
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, sp := range gd.Specs {
				vs := sp.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if n.Name == name && i < len(vs.Values) {
						return firstString([]ast.Expr{vs.Values[i]})
					}
				}
			}
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
