package emit_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"github.com/cnngen/cnngen/gen/emit"
)

// TestGeneratedGodoc checks that every exported identifier of the example
// packages has a doc comment (a constant in a group may share the comment of
// the constants above it) and that exported methods hang only on Model and
// Frozen: helpers stay unexported, so godoc shows the API and nothing else.
func TestGeneratedGodoc(t *testing.T) {
	t.Parallel() // CPU-bound in this process, beside the tests that wait on child processes
	for _, nt := range exampleNets(t) {
		// TestDeterministicAndFormatted's options, whose packages are cached.
		files := generateNet(t, nt, emit.Options{Package: nt.pkg, Source: "../" + nt.net.File, GoGenerate: true})
		for _, f := range files {
			if !strings.HasSuffix(f.Name, ".go") {
				continue
			}
			file, err := parser.ParseFile(token.NewFileSet(), f.Name, f.Contents, parser.ParseComments)
			if err != nil {
				t.Fatalf("%s: %s: %v", nt.pkg, f.Name, err)
			}
			if f.Name == "doc.go" && file.Doc == nil {
				t.Errorf("%s: doc.go has no package comment", nt.pkg)
			}
			for _, decl := range file.Decls {
				switch d := decl.(type) {
				case *ast.FuncDecl:
					if !d.Name.IsExported() {
						continue
					}
					if d.Recv != nil {
						recv := d.Recv.List[0].Type
						if star, ok := recv.(*ast.StarExpr); ok {
							recv = star.X
						}
						id, _ := recv.(*ast.Ident)
						if id == nil || !id.IsExported() {
							continue // not in godoc
						}
						if id.Name != "Model" && id.Name != "Frozen" {
							t.Errorf("%s: %s: exported method %s.%s", nt.pkg, f.Name, id.Name, d.Name.Name)
						}
					}
					if d.Doc == nil {
						t.Errorf("%s: %s: %s has no doc comment", nt.pkg, f.Name, d.Name.Name)
					}
				case *ast.GenDecl:
					documented := d.Doc != nil
					for _, spec := range d.Specs {
						var names []*ast.Ident
						var doc *ast.CommentGroup
						switch s := spec.(type) {
						case *ast.TypeSpec:
							names, doc = []*ast.Ident{s.Name}, s.Doc
						case *ast.ValueSpec:
							names, doc = s.Names, s.Doc
						}
						documented = documented || doc != nil
						for _, n := range names {
							if n.IsExported() && !documented {
								t.Errorf("%s: %s: %s has no doc comment", nt.pkg, f.Name, n.Name)
							}
						}
					}
				}
			}
		}
	}
}
