package astmut

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Enumerate parses the package in dir and returns every mutation site of the
// given operators (all of them when ops is empty), in a fixed order: files by
// name, sites by offset, operators in the order of Operators.
//
// The files are the package's non-test .go files that build.Default
// includes (GOOS, GOARCH and build constraints of this process), less
// generated files ("// Code generated ... DO NOT EDIT."). Nothing is
// type-checked: operators that could only be decided with types accept
// that some mutants will not compile, and Check drops those.
//
// Package is the import path derived from the nearest go.mod above dir
// (its module line plus the relative directory), which also works inside
// the module cache; it is empty when there is none.
func Enumerate(dir string, ops []Operator) ([]Mutant, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("astmut: %w", err)
	}
	if len(ops) == 0 {
		ops = Operators()
	}
	want := make(map[Operator]bool, len(ops))
	for _, op := range ops {
		if !op.valid() {
			return nil, fmt.Errorf("astmut: unknown operator %q", op)
		}
		want[op] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("astmut: %w", err)
	}
	importPath := importPathOf(dir)
	idBase := importPath
	if idBase == "" {
		idBase = filepath.Base(dir)
	}
	fset := token.NewFileSet()
	type parsed struct {
		file string
		src  []byte
		ast  *ast.File
	}
	var files []parsed
	generic := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		ok, err := build.Default.MatchFile(dir, name)
		if err != nil {
			return nil, fmt.Errorf("astmut: %s: %w", filepath.Join(dir, name), err)
		}
		if !ok {
			continue
		}
		file := filepath.Join(dir, name)
		src, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("astmut: %w", err)
		}
		f, err := parser.ParseFile(fset, file, src, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("astmut: %w", err)
		}
		if len(files) > 0 && f.Name.Name != files[0].ast.Name.Name {
			return nil, fmt.Errorf("astmut: %s: package %s, want %s as in %s", file, f.Name.Name, files[0].ast.Name.Name, files[0].file)
		}
		addGenericFuncs(generic, f)
		files = append(files, parsed{file, src, f})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("astmut: %s: no Go files to mutate", dir)
	}
	var all []Mutant
	for _, p := range files {
		if ast.IsGenerated(p.ast) {
			continue
		}
		w := &walker{fset: fset, src: p.src, file: p.file, pkg: importPath, want: want, generic: generic}
		w.walk(p.ast)
		slices.SortStableFunc(w.out, func(a, b Mutant) int { return a.Offset - b.Offset })
		all = append(all, w.out...)
	}
	seen := make(map[string]int, len(all))
	for i := range all {
		m := &all[i]
		id := fmt.Sprintf("%s/%s:%d:%d:%s", idBase, filepath.Base(m.File), m.Line, m.Col, m.Operator)
		seen[id]++
		if n := seen[id]; n > 1 {
			id += "#" + strconv.Itoa(n)
		}
		m.ID = id
	}
	return all, nil
}

// importPathOf derives dir's import path from the nearest go.mod above it.
func importPathOf(dir string) string {
	for d := dir; ; {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			mod := modulePath(data)
			if mod == "" {
				return ""
			}
			rel, err := filepath.Rel(d, dir)
			if err != nil {
				return ""
			}
			return path.Join(mod, filepath.ToSlash(rel))
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

// modulePath returns the path on go.mod's module line.
func modulePath(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "module")
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		rest, _, _ = strings.Cut(rest, "//")
		rest = strings.TrimSpace(rest)
		if p, err := strconv.Unquote(rest); err == nil {
			return p
		}
		return rest
	}
	return ""
}

// addGenericFuncs adds to g the names of f's generic package-level
// functions: a call to one cannot become `_ = F` without its type arguments.
func addGenericFuncs(g map[string]bool, f *ast.File) {
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Type.TypeParams != nil {
			g[fd.Name.Name] = true
		}
	}
}

// walker collects the mutants of one file.
type walker struct {
	fset    *token.FileSet
	src     []byte
	file    string
	pkg     string
	want    map[Operator]bool
	generic map[string]bool

	stack []ast.Node // the path from the file to the current node
	out   []Mutant
}

func (w *walker) walk(f *ast.File) {
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil {
			w.stack = w.stack[:len(w.stack)-1]
			return true
		}
		w.stack = append(w.stack, n)
		w.visit(n)
		return true
	})
}

func (w *walker) visit(n ast.Node) {
	switch n := n.(type) {
	case *ast.BinaryExpr:
		w.binary(n)
	case *ast.UnaryExpr:
		if n.Op == token.NOT {
			w.add(InvertedLogic, n.OpPos, "!", "")
		}
	case *ast.IncDecStmt:
		if n.Tok == token.INC {
			w.add(IncrementDecrement, n.TokPos, "++", "--")
		} else {
			w.add(IncrementDecrement, n.TokPos, "--", "++")
		}
	case *ast.AssignStmt:
		w.assign(n)
	case *ast.ExprStmt:
		w.call(n)
	case *ast.BranchStmt:
		w.branch(n)
	case *ast.ReturnStmt:
		w.ret(n)
	}
}

// swaps of the comparison, arithmetic and logic operators.
var (
	boundarySwap = map[token.Token]token.Token{
		token.LSS: token.LEQ, token.LEQ: token.LSS,
		token.GTR: token.GEQ, token.GEQ: token.GTR,
	}
	negationSwap = map[token.Token]token.Token{
		token.EQL: token.NEQ, token.NEQ: token.EQL,
		token.LSS: token.GEQ, token.GEQ: token.LSS,
		token.GTR: token.LEQ, token.LEQ: token.GTR,
	}
	arithmeticSwap = map[token.Token]token.Token{
		token.ADD: token.SUB, token.SUB: token.ADD,
		token.MUL: token.QUO, token.QUO: token.MUL,
		token.REM:        token.MUL,
		token.MUL_ASSIGN: token.QUO_ASSIGN, token.QUO_ASSIGN: token.MUL_ASSIGN,
		token.REM_ASSIGN: token.MUL_ASSIGN,
	}
	logicSwap = map[token.Token]token.Token{
		token.LAND: token.LOR, token.LOR: token.LAND,
	}
)

func (w *walker) binary(n *ast.BinaryExpr) {
	op := n.Op.String()
	if to, ok := boundarySwap[n.Op]; ok {
		w.add(ConditionalBoundary, n.OpPos, op, to.String())
	}
	if to, ok := negationSwap[n.Op]; ok {
		w.add(NegatedConditional, n.OpPos, op, to.String())
	}
	if to, ok := arithmeticSwap[n.Op]; ok && !(n.Op == token.ADD && (isStringLit(n.X) || isStringLit(n.Y))) {
		w.add(Arithmetic, n.OpPos, op, to.String())
	}
	if to, ok := logicSwap[n.Op]; ok {
		w.add(InvertedLogic, n.OpPos, op, to.String())
	}
}

func (w *walker) assign(n *ast.AssignStmt) {
	op := n.Tok.String()
	switch n.Tok {
	case token.DEFINE:
		return
	case token.ADD_ASSIGN, token.SUB_ASSIGN:
		if !isStringLit(n.Rhs[0]) {
			to := token.SUB_ASSIGN
			if n.Tok == token.SUB_ASSIGN {
				to = token.ADD_ASSIGN
			}
			w.add(IncrementDecrement, n.TokPos, op, to.String())
		}
	default:
		if to, ok := arithmeticSwap[n.Tok]; ok {
			w.add(Arithmetic, n.TokPos, op, to.String())
		}
	}
	if allBlank(n.Lhs) {
		return
	}
	blanks := len(n.Lhs)
	if len(n.Rhs) > 1 {
		blanks = len(n.Rhs)
	}
	repl := strings.Repeat("_, ", blanks-1) + "_ = " + w.text(n.Rhs[0].Pos(), n.Rhs[len(n.Rhs)-1].End())
	w.add(RemovedAssignment, n.Pos(), w.text(n.Pos(), n.End()), repl)
}

// builtins are the predeclared functions a call statement may name.
var builtins = map[string]bool{
	"append": true, "cap": true, "clear": true, "close": true, "complex": true,
	"copy": true, "delete": true, "imag": true, "len": true, "make": true,
	"max": true, "min": true, "new": true, "panic": true, "print": true,
	"println": true, "real": true, "recover": true,
}

func (w *walker) call(n *ast.ExprStmt) {
	c, ok := ast.Unparen(n.X).(*ast.CallExpr)
	if !ok {
		return
	}
	var keep []string
	fun := ast.Unparen(c.Fun)
	id, isIdent := fun.(*ast.Ident)
	switch {
	case isIdent && id.Obj == nil && builtins[id.Name]:
		// A builtin is not a value: keep only its arguments.
		if id.Name == "panic" {
			return
		}
	case isIdent && w.generic[id.Name]:
		// Nor is a generic function without its type arguments.
	default:
		keep = append(keep, w.text(c.Fun.Pos(), c.Fun.End()))
	}
	for _, a := range c.Args {
		if id, ok := ast.Unparen(a).(*ast.Ident); ok && (id.Name == "nil" || id.Name == "_") {
			continue // untyped nil cannot be assigned to _
		}
		if _, ok := ast.Unparen(a).(*ast.BasicLit); ok {
			continue // a literal has no effect and is nobody's only use
		}
		keep = append(keep, w.text(a.Pos(), a.End()))
	}
	repl := ""
	if len(keep) > 0 {
		repl = strings.Repeat("_, ", len(keep)-1) + "_ = " + strings.Join(keep, ", ")
	}
	w.add(RemovedCall, n.Pos(), w.text(n.Pos(), n.End()), repl)
}

func (w *walker) branch(n *ast.BranchStmt) {
	if n.Tok != token.BREAK && n.Tok != token.CONTINUE {
		return
	}
	to := "continue"
	if n.Tok == token.CONTINUE {
		to = "break"
	}
	if n.Label != nil {
		if n.Tok == token.BREAK && !w.labelsLoop(n.Label.Name) {
			return
		}
	} else if !w.innermostBreakableIsLoop() {
		return
	}
	w.add(LoopControl, n.TokPos, n.Tok.String(), to)
}

// innermostBreakableIsLoop reports whether the innermost for, switch or
// select around the current node, within its function, is a for.
func (w *walker) innermostBreakableIsLoop() bool {
	for i := len(w.stack) - 1; i >= 0; i-- {
		switch w.stack[i].(type) {
		case *ast.ForStmt, *ast.RangeStmt:
			return true
		case *ast.SwitchStmt, *ast.TypeSwitchStmt, *ast.SelectStmt, *ast.FuncLit, *ast.FuncDecl:
			return false
		}
	}
	return false
}

// labelsLoop reports whether label, visible from the current node, labels a
// for statement.
func (w *walker) labelsLoop(label string) bool {
	for i := len(w.stack) - 1; i >= 0; i-- {
		switch s := w.stack[i].(type) {
		case *ast.LabeledStmt:
			if s.Label.Name == label {
				switch s.Stmt.(type) {
				case *ast.ForStmt, *ast.RangeStmt:
					return true
				}
				return false
			}
		case *ast.FuncLit, *ast.FuncDecl:
			return false
		}
	}
	return false
}

func (w *walker) ret(n *ast.ReturnStmt) {
	var ft *ast.FuncType
	for i := len(w.stack) - 1; i >= 0 && ft == nil; i-- {
		switch f := w.stack[i].(type) {
		case *ast.FuncLit:
			ft = f.Type
		case *ast.FuncDecl:
			ft = f.Type
		}
	}
	if ft == nil || ft.Results == nil || len(ft.Results.List) == 0 {
		return
	}
	last := ft.Results.List[len(ft.Results.List)-1]
	if t, ok := last.Type.(*ast.Ident); !ok || t.Name != "error" || t.Obj != nil {
		return
	}
	if len(n.Results) != ft.Results.NumFields() {
		return // a bare return, or return f() of a multi-value call
	}
	e := n.Results[len(n.Results)-1]
	if id, ok := ast.Unparen(e).(*ast.Ident); ok && id.Name == "nil" {
		return
	}
	w.add(ErrorNil, e.Pos(), w.text(e.Pos(), e.End()), "nil")
}

// add records a mutant of op at pos unless op was not asked for.
func (w *walker) add(op Operator, pos token.Pos, orig, repl string) {
	if !w.want[op] {
		return
	}
	p := w.fset.Position(pos)
	if string(w.src[p.Offset:p.Offset+len(orig)]) != orig {
		panic(fmt.Sprintf("astmut: %s: %q is not at offset %d", p, orig, p.Offset))
	}
	w.out = append(w.out, Mutant{
		Package:     w.pkg,
		File:        w.file,
		Line:        p.Line,
		Col:         p.Column,
		Operator:    op,
		Original:    orig,
		Replacement: repl,
		Offset:      p.Offset,
		Func:        w.funcName(),
		hint:        w.hint(op),
	})
}

// text returns the source between two positions of the file.
func (w *walker) text(from, to token.Pos) string {
	return string(w.src[w.fset.Position(from).Offset:w.fset.Position(to).Offset])
}

// funcName names the declaration enclosing the current node (see
// Mutant.Func).
func (w *walker) funcName() string {
	for _, n := range w.stack {
		switch f := n.(type) {
		case *ast.FuncDecl:
			if f.Recv == nil || len(f.Recv.List) == 0 {
				return f.Name.Name
			}
			return recvName(f.Recv.List[0].Type) + "." + f.Name.Name
		case *ast.FuncLit:
			return "func literal"
		}
	}
	return ""
}

// recvName spells a receiver type as in a stack trace: T or (*T), type
// parameters left out.
func recvName(t ast.Expr) string {
	switch t := t.(type) {
	case *ast.StarExpr:
		return "(*" + recvName(t.X) + ")"
	case *ast.IndexExpr:
		return recvName(t.X)
	case *ast.IndexListExpr:
		return recvName(t.X)
	case *ast.ParenExpr:
		return recvName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return "?"
}

func isStringLit(e ast.Expr) bool {
	l, ok := ast.Unparen(e).(*ast.BasicLit)
	return ok && l.Kind == token.STRING
}

func allBlank(es []ast.Expr) bool {
	for _, e := range es {
		if id, ok := e.(*ast.Ident); !ok || id.Name != "_" {
			return false
		}
	}
	return true
}
