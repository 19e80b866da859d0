package iosched

// Policy names how ready writes become device IOs: one of Policies.
type Policy string

// The policies.
const (
	// PolicyFIFO issues writes one per device IO, in submission order.
	// The baseline the others are measured against.
	PolicyFIFO Policy = "fifo"
	// PolicyCoalesce merges adjacent appends to one extent into one IO, and
	// issues foreground extents first.
	PolicyCoalesce Policy = "coalesce"
	// PolicyElevator merges as coalesce does and issues a round's IOs in
	// ascending device address (one sweep per round, C-SCAN), foreground
	// and background alike: fewer and shorter seeks on a hard disk.
	PolicyElevator Policy = "elevator"
)

// policy is what a Policy does: it turns the writes a round may take into
// the round's regions. Each policy is one type in a file of its own.
type policy interface {
	// plan adds regions to p. qs are the queues with pending writes, in
	// the order they became active; p.ready(q) counts the writes at the
	// head of q whose dependencies are durable, and has effects (it marks
	// the first that is not as blocked), so a policy calls it once per
	// queue it takes from. A region holds consecutive pending writes of
	// one queue, and the regions of a queue take its writes in order from
	// the head: the planner dequeues what they hold.
	plan(p *plan, qs []*extQueue)
	// doc says in a phrase what the policy does (Policy.Doc).
	doc() string
}

// policies is the one list of policies, default first: options
// validation, the driver's sched= choices and its docs all read it.
var policies = [...]struct {
	name Policy
	impl policy
}{
	{PolicyCoalesce, coalesce{}},
	{PolicyFIFO, fifo{}},
	{PolicyElevator, elevator{}},
}

// Policies lists the policies, default first.
// It is the one list of names: options validation, the driver's sched=
// choices and its docs all read it.
func Policies() []Policy {
	ps := make([]Policy, len(policies))
	for i, p := range policies {
		ps[i] = p.name
	}
	return ps
}

// PolicyNames returns Policies as strings, default first.
func PolicyNames() []string {
	ps := Policies()
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = string(p)
	}
	return names
}

// Doc says in a phrase what the policy does, for option docs.
func (p Policy) Doc() string {
	if impl := p.impl(); impl != nil {
		return impl.doc()
	}
	return ""
}

// Valid reports whether p is one of Policies.
func (p Policy) Valid() bool { return p.impl() != nil }

// impl returns p's implementation, or nil if p is not one of Policies.
func (p Policy) impl() policy {
	for _, q := range policies {
		if q.name == p {
			return q.impl
		}
	}
	return nil
}
