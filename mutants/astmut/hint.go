package astmut

import (
	"go/ast"
	"go/token"
	"go/types"
	"strings"
)

// The equivalence hints are syntactic guesses (see Mutant.EquivalentHint).
// Each one names a situation where a reviewer of a surviving mutant will
// most often conclude that no test could have killed it.

// textMethods are the methods whose only job is to produce text.
var textMethods = map[string]bool{"String": true, "Error": true, "GoString": true, "Format": true}

// logCalls are the callee names of calls that only log or build a message.
// Sprintf and Fprintf are not among them: their text is as often a name, a
// key or a report as a message.
var logCalls = map[string]bool{
	"Print": true, "Printf": true, "Println": true,
	"Errorf": true, "Log": true, "Logf": true,
	"Debug": true, "Debugf": true, "Info": true, "Infof": true,
	"Warn": true, "Warnf": true, "Warning": true, "Warningf": true,
	"Trace": true, "Tracef": true, "panic": true,
}

// metricsWords mark a receiver that only counts: removing a call on it
// changes statistics, not behaviour.
var metricsWords = []string{"metric", "stats", "counter", "debug", "trace"}

// hint returns the reason the mutant of op at the current node (the top of
// the stack) is likely equivalent, or "".
func (w *walker) hint(op Operator) string {
	n := w.stack[len(w.stack)-1]
	if name := w.enclosingMethod(); textMethods[name] {
		article := "a"
		if name == "Error" {
			article = "an"
		}
		return "inside " + article + " " + name + " method: changes only text"
	}
	if op == RemovedCall {
		c := ast.Unparen(n.(*ast.ExprStmt).X).(*ast.CallExpr)
		name, recv := calleeName(c.Fun)
		if logCalls[name] {
			return "removes a logging call"
		}
		recv = strings.ToLower(recv)
		for _, word := range metricsWords {
			if strings.Contains(recv, word) {
				return "removes a call on " + w.text(c.Fun.Pos(), c.Fun.End()) + ", which looks like metrics or debugging"
			}
		}
		return ""
	}
	for i := len(w.stack) - 2; i >= 0; i-- {
		c, ok := w.stack[i].(*ast.CallExpr)
		if !ok {
			if _, fn := w.stack[i].(*ast.FuncLit); fn {
				break
			}
			continue
		}
		if w.stack[i+1] == c.Fun {
			continue
		}
		if name, _ := calleeName(c.Fun); logCalls[name] {
			return "inside an argument of " + name + ": changes only a message"
		}
	}
	if v := w.clampBoundary(op); v != "" {
		return v
	}
	if v := w.unreadStore(op); v != "" {
		return v + " is not read after this statement"
	}
	return ""
}

// enclosingMethod returns the name of the method declaration around the
// current node, or "".
func (w *walker) enclosingMethod() string {
	for _, n := range w.stack {
		if f, ok := n.(*ast.FuncDecl); ok && f.Recv != nil {
			return f.Name.Name
		}
	}
	return ""
}

// calleeName returns a call's function name and the text of its receiver
// or package qualifier, if any.
func calleeName(fun ast.Expr) (name, recv string) {
	switch f := ast.Unparen(fun).(type) {
	case *ast.Ident:
		return f.Name, ""
	case *ast.SelectorExpr:
		return f.Sel.Name, exprName(f.X)
	}
	return "", ""
}

// exprName spells a selector chain a.b.c; other expressions give "".
func exprName(e ast.Expr) string {
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprName(e.X) + "." + e.Sel.Name
	case *ast.StarExpr:
		return exprName(e.X)
	}
	return ""
}

// unreadStore returns the local variable the mutated statement stores to
// when nothing reads it afterwards, or "". It applies when the mutation is
// the statement's own operator or its removal, or lies in a right-hand side
// without calls; and only outside loops, where an earlier read would run
// again.
func (w *walker) unreadStore(op Operator) string {
	// Find the statement: the node itself or, for an expression, the
	// nearest enclosing statement.
	i := len(w.stack) - 1
	for ; i >= 0; i-- {
		if _, ok := w.stack[i].(ast.Stmt); ok {
			break
		}
	}
	if i < 0 {
		return ""
	}
	var lhs []ast.Expr
	switch s := w.stack[i].(type) {
	case *ast.IncDecStmt:
		lhs = []ast.Expr{s.X}
	case *ast.AssignStmt:
		if s.Tok == token.DEFINE {
			return ""
		}
		if i != len(w.stack)-1 {
			for _, r := range s.Rhs {
				if hasCall(r) {
					return ""
				}
			}
		}
		lhs = s.Lhs
	default:
		return ""
	}
	stmt := w.stack[i]
	var body *ast.BlockStmt
	var ft *ast.FuncType
	for j := i - 1; j >= 0 && body == nil; j-- {
		switch f := w.stack[j].(type) {
		case *ast.ForStmt, *ast.RangeStmt:
			return ""
		case *ast.FuncLit:
			body, ft = f.Body, f.Type
		case *ast.FuncDecl:
			body, ft = f.Body, f.Type
		}
	}
	if body == nil {
		return ""
	}
	var names []string
	for _, e := range lhs {
		id, ok := e.(*ast.Ident)
		if !ok {
			return "" // a field, element or pointer target: read elsewhere
		}
		if id.Name == "_" {
			continue
		}
		// A local of this function or one of its parameters; a result
		// is read by a bare return or by a deferred function.
		if id.Obj == nil || id.Obj.Kind != ast.Var || !inBlock(id.Obj.Decl, body) && !declaredIn(id.Obj, ft.Params) {
			return ""
		}
		if readLater(body, id.Obj, stmt) {
			return ""
		}
		names = append(names, id.Name)
	}
	if len(names) == 0 {
		return ""
	}
	return strings.Join(names, ", ")
}

// readLater reports whether obj is mentioned in body after stmt, inside a
// function literal, or has its address taken.
func readLater(body *ast.BlockStmt, obj *ast.Object, stmt ast.Node) bool {
	found := false
	var lits int
	var visit func(n ast.Node) bool
	visit = func(n ast.Node) bool {
		if found || n == nil {
			return false
		}
		switch n := n.(type) {
		case *ast.FuncLit:
			lits++
			ast.Inspect(n.Body, visit)
			lits--
			return false
		case *ast.UnaryExpr:
			if id, ok := n.X.(*ast.Ident); ok && n.Op == token.AND && id.Obj == obj {
				found = true
			}
		case *ast.Ident:
			if n.Obj == obj && (lits > 0 || n.Pos() >= stmt.End()) {
				found = true
			}
		}
		return !found
	}
	ast.Inspect(body, visit)
	return found
}

func hasCall(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if _, ok := n.(*ast.CallExpr); ok {
			found = true
		}
		return !found
	})
	return found
}

// declaredIn reports whether obj is declared by one of the fields.
func declaredIn(obj *ast.Object, fields *ast.FieldList) bool {
	if fields == nil {
		return false
	}
	for _, f := range fields.List {
		if obj.Decl == f {
			return true
		}
	}
	return false
}

func inBlock(decl any, body *ast.BlockStmt) bool {
	n, ok := decl.(ast.Node)
	return ok && n.Pos() >= body.Pos() && n.End() <= body.End()
}

// clampBoundary returns a reason when the mutant moves the boundary of the
// condition of a clamp, `if x > c { x = c }` (any comparison, operands in
// either order, and nothing else in the if): where the moved boundary
// decides otherwise, x equals c, and assigning c to x changes nothing.
// Operands with calls are left alone (a call may do something else), and
// the guess is on the expressions' text: a float's signed zeros, equal but not the same
// bits, are the one case it misses.
func (w *walker) clampBoundary(op Operator) string {
	if op != ConditionalBoundary || len(w.stack) < 2 {
		return ""
	}
	b, ok := w.stack[len(w.stack)-1].(*ast.BinaryExpr)
	if !ok {
		return ""
	}
	ifs, ok := w.stack[len(w.stack)-2].(*ast.IfStmt)
	if !ok || ifs.Cond != b || ifs.Init != nil || ifs.Else != nil || len(ifs.Body.List) != 1 {
		return ""
	}
	as, ok := ifs.Body.List[0].(*ast.AssignStmt)
	if !ok || as.Tok != token.ASSIGN || len(as.Lhs) != 1 || len(as.Rhs) != 1 || hasCall(b.X) || hasCall(b.Y) {
		return ""
	}
	// ExprString, not the source text: gofmt spaces 1<<32-1 in a
	// condition and 1<<32 - 1 in an assignment.
	x, y := types.ExprString(b.X), types.ExprString(b.Y)
	l, r := types.ExprString(as.Lhs[0]), types.ExprString(as.Rhs[0])
	if l == x && r == y || l == y && r == x {
		return "clamps " + l + " to " + r + ": at the boundary they are equal, so the assignment changes nothing"
	}
	return ""
}
