package coordination // import "github.com/kafkawake/kafkawake/receiver/kafkawakereceiver/internal/coordination"

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// ProtocolType is the group protocol type the replicas join with. It keeps
// the group apart from consumer groups: Kafka refuses a consumer joining it.
const ProtocolType = "kafkawake"

// namesLogged bounds the binding names in one assignment log line.
const namesLogged = 10

// Config says which group to join and how the member keeps its place.
type Config struct {
	Group             string
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	// Bindings are the configured bindings, in the receiver's order.
	Bindings []BindingKey
	// Changed, when set, is called after the bindings this member owns
	// change, from the membership's goroutine: it must not block.
	Changed func()
	// LeaveTimeout bounds the LeaveGroup sent when Run ends: a coordinator
	// that does not answer must not hold a shutdown past its grace period.
	// Zero is the session timeout.
	LeaveTimeout time.Duration
}

// BindingKey names a configured binding and its function; every replica
// must derive the same names for the same binding.
type BindingKey struct {
	Binding  string
	Function string
}

// Membership keeps one member in the group and tells which of the
// configured bindings it owns.
type Membership struct {
	client     kmsg.Requestor
	cfg        Config
	configured []Binding
	indexOf    map[BindingID]int
	logger     *zap.Logger
	now        func() time.Time

	// memberID and protocol, the group's protocol at the last join, are
	// only used by Run's goroutine.
	memberID string
	protocol string

	mu            sync.Mutex
	share         share
	fenced        bool // the share is held but no longer confirmed
	failingSince  time.Time
	failureLogged bool
}

// New prepares a member; Run joins the group.
func New(client kmsg.Requestor, cfg Config, logger *zap.Logger, now func() time.Time) *Membership {
	if cfg.LeaveTimeout <= 0 {
		cfg.LeaveTimeout = cfg.SessionTimeout
	}
	m := &Membership{
		client:     client,
		cfg:        cfg,
		configured: make([]Binding, len(cfg.Bindings)),
		indexOf:    make(map[BindingID]int, len(cfg.Bindings)),
		logger:     logger.With(zap.String("coordination_group", cfg.Group)),
		now:        now,
	}
	for i, key := range cfg.Bindings {
		b := Binding{ID: IDOf(key.Binding), Function: FunctionIDOf(key.Function)}
		m.configured[i], m.indexOf[b.ID] = b, i
	}
	return m
}

// Owned returns the generation of the current assignment and the indexes of
// the configured bindings this member observes now, nil while it has no
// confirmed assignment.
func (m *Membership) Owned() (generation int32, indexes []int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.share.generation, m.share.ownedAt(m.now(), m.cfg.SessionTimeout)
}

// Run keeps the member in the group until ctx is done, then leaves the group
// so that its bindings move at once.
func (m *Membership) Run(ctx context.Context) {
	defer m.leave()
	for ctx.Err() == nil {
		err := m.joinAndSync(ctx)
		if err == nil {
			err = m.heartbeat(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		switch reactTo(err) {
		case rejoin:
		case rejoinWithoutShare:
			m.setShare(share{}, "this replica is no longer part of the group's generation")
		case rejoinAsNewMember:
			m.memberID = ""
			m.setShare(share{}, "the coordinator no longer knows this replica")
		default:
			m.noteFailure(err)
			select {
			case <-ctx.Done():
			case <-time.After(m.cfg.HeartbeatInterval):
			}
		}
	}
}

func (m *Membership) joinAndSync(ctx context.Context) error {
	if m.memberID == "" {
		if err := m.refuseForeignGroup(ctx); err != nil {
			return err
		}
	}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group = m.cfg.Group
	join.SessionTimeoutMillis = int32(m.cfg.SessionTimeout.Milliseconds())
	// A rebalance waits this long for the members to rejoin; they notice it
	// at their next heartbeat.
	join.RebalanceTimeoutMillis = int32(m.cfg.SessionTimeout.Milliseconds())
	join.ProtocolType = ProtocolType
	join.Protocols = m.protocols()

	var joined *kmsg.JoinGroupResponse
	for attempt := 0; ; attempt++ {
		join.MemberID = m.memberID
		resp, err := join.RequestWith(ctx, m.client)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if errors.Is(err, kerr.MemberIDRequired) && attempt == 0 {
			// Kafka hands out the member id on a first join and expects
			// it back in the real one.
			m.memberID = resp.MemberID
			continue
		}
		if err != nil {
			return fmt.Errorf("joining coordination group %q: %w%s", m.cfg.Group, err, hint(err))
		}
		joined = resp
		break
	}
	m.memberID = joined.MemberID
	m.noteProtocol(joined)

	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group = m.cfg.Group
	sync.Generation = joined.Generation
	sync.MemberID = m.memberID
	sync.ProtocolType = kmsg.StringPtr(ProtocolType)
	sync.Protocol = joined.Protocol
	if joined.LeaderID == joined.MemberID {
		sync.GroupAssignment = m.assign(joined)
	}
	sent := m.now()
	resp, err := sync.RequestWith(ctx, m.client)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		return fmt.Errorf("syncing coordination group %q, generation %d: %w%s", m.cfg.Group, joined.Generation, err, hint(err))
	}
	assigned, err := decodeBindings(resp.MemberAssignment)
	if err != nil {
		return fmt.Errorf("reading the assignment of coordination group %q, generation %d: %w", m.cfg.Group, joined.Generation, err)
	}
	indexes := make([]int, 0, len(assigned))
	for _, id := range assigned {
		if i, ok := m.indexOf[id]; ok {
			indexes = append(indexes, i)
		}
	}
	slices.Sort(indexes)
	m.setShare(share{generation: joined.Generation, indexes: indexes, confirmedAt: sent}, "the group rebalanced")
	return nil
}

// protocols offers the group both ways to share the bindings, whole
// functions first.
func (m *Membership) protocols() []kmsg.JoinGroupRequestProtocol {
	ids := make([]BindingID, len(m.configured))
	for i, b := range m.configured {
		ids[i] = b.ID
	}
	functions := kmsg.NewJoinGroupRequestProtocol()
	functions.Name = functionsProtocol
	functions.Metadata = encodeFunctionBindings(m.configured)
	bindings := kmsg.NewJoinGroupRequestProtocol()
	bindings.Name = bindingsProtocol
	bindings.Metadata = encodeBindings(ids)
	return []kmsg.JoinGroupRequestProtocol{functions, bindings}
}

// noteProtocol logs when the group starts or stops sharing bindings one by
// one: Kafka picks that protocol only while a replica of an older kafkawake
// is a member, and then two replicas may wake one function through two of
// its bindings.
func (m *Membership) noteProtocol(joined *kmsg.JoinGroupResponse) {
	protocol := groupProtocol(joined)
	if protocol == m.protocol {
		return
	}
	switch {
	case protocol == bindingsProtocol:
		m.logger.Warn("A replica of an older kafkawake is in the coordination group, so bindings are owned one by one, not by function: two replicas may wake a function that has several bindings until every replica runs this version",
			zap.Int32("generation", joined.Generation))
	case m.protocol == bindingsProtocol:
		m.logger.Info("Every replica of the coordination group runs this version: each function is owned by one replica again",
			zap.Int32("generation", joined.Generation))
	}
	m.protocol = protocol
}

// groupProtocol is the protocol Kafka picked for the generation.
func groupProtocol(joined *kmsg.JoinGroupResponse) string {
	if joined.Protocol == nil {
		return ""
	}
	return *joined.Protocol
}

// errForeignGroup marks a coordination group that something else (a
// consumer) already uses: joining it would lock that something out.
var errForeignGroup = errors.New("the coordination group is in use with another protocol type")

// refuseForeignGroup checks, before this member joins as a new member, that
// the group is unknown or already a kafkawake group: Kafka fixes a group's
// protocol type with its first member, so joining a consumer group while
// it has no member would refuse its consumers until the replicas leave.
func (m *Membership) refuseForeignGroup(ctx context.Context) error {
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{m.cfg.Group}
	resp, err := req.RequestWith(ctx, m.client)
	if err != nil {
		return fmt.Errorf("describing coordination group %q before joining it: %w", m.cfg.Group, err)
	}
	for _, g := range resp.Groups {
		err := kerr.ErrorForCode(g.ErrorCode)
		switch {
		case errors.Is(err, kerr.GroupIDNotFound):
		case err != nil:
			return fmt.Errorf("describing coordination group %q before joining it: %w%s", m.cfg.Group, err, hint(err))
		case g.ProtocolType != "" && g.ProtocolType != ProtocolType:
			return fmt.Errorf("%w: group %q has protocol type %q (state %s, %d members), so this replica does not join it; rename coordination.group to a name no consumer uses",
				errForeignGroup, m.cfg.Group, g.ProtocolType, g.State, len(g.Members))
		}
	}
	return nil
}

// assign is the leader's part of a sync: an assignment for every member.
func (m *Membership) assign(joined *kmsg.JoinGroupResponse) []kmsg.SyncGroupRequestGroupAssignment {
	members := make([]MemberBindings, 0, len(joined.Members))
	for _, jm := range joined.Members {
		bindings, err := decodeMetadata(groupProtocol(joined), jm.ProtocolMetadata)
		if err != nil {
			m.logger.Error("A replica's join metadata is unreadable; it gets no binding",
				zap.String("member_id", jm.MemberID), zap.Error(err))
		}
		members = append(members, MemberBindings{MemberID: jm.MemberID, Bindings: bindings})
	}
	assignment, mismatches := Assign(members)
	for _, mm := range mismatches {
		m.logger.Warn("Replicas of the coordination group configure different bindings; each binding goes to a replica that configures it",
			zap.Int32("generation", joined.Generation), zap.String("member_id", mm.MemberID),
			zap.Int("bindings_missing", mm.Lacks), zap.Int("bindings_in_group", mm.Of))
	}
	out := make([]kmsg.SyncGroupRequestGroupAssignment, 0, len(members))
	for _, mb := range members {
		a := kmsg.NewSyncGroupRequestGroupAssignment()
		a.MemberID = mb.MemberID
		a.MemberAssignment = encodeBindings(assignment[mb.MemberID])
		out = append(out, a)
	}
	return out
}

// heartbeat confirms the membership every interval until a rebalance or an
// eviction needs a rejoin, or ctx is done.
func (m *Membership) heartbeat(ctx context.Context) error {
	generation := m.generation()
	ticker := time.NewTicker(m.cfg.HeartbeatInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
		req := kmsg.NewPtrHeartbeatRequest()
		req.Group = m.cfg.Group
		req.Generation = generation
		req.MemberID = m.memberID
		sent := m.now()
		reqCtx, cancel := context.WithTimeout(ctx, m.cfg.SessionTimeout)
		resp, err := req.RequestWith(reqCtx, m.client)
		cancel()
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		switch reactTo(err) {
		case confirmed:
			m.confirm(sent)
		case retryLater:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			m.noteFailure(fmt.Errorf("heartbeat to coordination group %q: %w%s", m.cfg.Group, err, hint(err)))
		default:
			return err
		}
	}
}

// leave gives up the share first, then tells the coordinator, which
// rebalances the others at once instead of waiting for the session to end.
func (m *Membership) leave() {
	m.setShare(share{}, "this replica is leaving the group")
	if m.memberID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.LeaveTimeout)
	defer cancel()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = m.cfg.Group
	req.MemberID = m.memberID
	member := kmsg.NewLeaveGroupRequestMember()
	member.MemberID = m.memberID
	req.Members = append(req.Members, member)
	resp, err := req.RequestWith(ctx, m.client)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
		for _, rm := range resp.Members {
			err = errors.Join(err, kerr.ErrorForCode(rm.ErrorCode))
		}
	}
	if err != nil {
		m.logger.Warn("Could not leave the coordination group within shutdown_timeout, so the leave was skipped; the other replicas take over this replica's bindings when its session times out",
			zap.Duration("shutdown_timeout", m.cfg.LeaveTimeout), zap.Duration("session_timeout", m.cfg.SessionTimeout), zap.Error(err))
	}
}

func (m *Membership) generation() int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.share.generation
}

// confirm records a heartbeat the coordinator answered.
func (m *Membership) confirm(sent time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.share.confirmedAt = sent
	if m.fenced {
		m.logger.Info("Heartbeats are confirmed again; observing the assigned bindings",
			zap.Int32("generation", m.share.generation), zap.Int("bindings", len(m.share.indexes)))
	} else if m.failureLogged {
		m.logger.Info("Heartbeats are confirmed again")
	}
	m.fenced, m.failureLogged, m.failingSince = false, false, time.Time{}
}

// noteFailure logs the first failure of a streak, and the moment the share
// stops being observed because nothing has been confirmed for too long.
func (m *Membership) noteFailure(err error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failingSince.IsZero() {
		m.failingSince = now
	}
	if !m.failureLogged {
		m.logger.Warn("Cannot reach the coordination group; retrying every heartbeat interval", zap.Error(err))
		m.failureLogged = true
	}
	if !m.fenced && m.share.indexes != nil && m.share.ownedAt(now, m.cfg.SessionTimeout) == nil {
		m.fenced = true
		m.logger.Warn("Stopped observing the assigned bindings: no heartbeat confirmed for too long, another replica may own them by now",
			zap.Int32("generation", m.share.generation), zap.Int("bindings", len(m.share.indexes)),
			zap.Duration("unconfirmed_for", now.Sub(m.share.confirmedAt)), zap.Error(err))
	}
}

// setShare replaces the share, logs what moved and tells Changed when
// bindings moved.
func (m *Membership) setShare(next share, reason string) {
	if m.replaceShare(next, reason) && m.cfg.Changed != nil {
		m.cfg.Changed()
	}
}

// replaceShare replaces the share, logs what moved and reports whether any
// binding moved in or out.
func (m *Membership) replaceShare(next share, reason string) (movedAny bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := m.share
	m.share = next
	m.fenced = false
	in, out := moved(prev.indexes, next.indexes)
	if next.generation == prev.generation && len(in) == 0 && len(out) == 0 {
		return false
	}
	generation := next.generation
	if next.indexes == nil {
		generation = prev.generation
	}
	m.logger.Info("Binding assignment changed",
		zap.String("reason", reason),
		zap.Int32("generation", generation),
		zap.Int("bindings", len(next.indexes)),
		zap.Int("moved_in", len(in)), zap.Int("moved_out", len(out)),
		zap.Strings("moved_in_bindings", m.names(in)), zap.Strings("moved_out_bindings", m.names(out)))
	return len(in) > 0 || len(out) > 0
}

func (m *Membership) names(indexes []int) []string {
	names := make([]string, 0, min(len(indexes), namesLogged+1))
	for n, i := range indexes {
		if n == namesLogged {
			names = append(names, fmt.Sprintf("and %d more", len(indexes)-namesLogged))
			break
		}
		names = append(names, m.cfg.Bindings[i].Binding)
	}
	return names
}

// hint says what to do about the group errors an operator can fix.
func hint(err error) string {
	switch {
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		return ": grant this replica's principal Read and Describe on the coordination group"
	case errors.Is(err, kerr.InconsistentGroupProtocol):
		return ": the group is used by something else (a consumer?); give coordination.group a name of its own"
	case errors.Is(err, kerr.InvalidSessionTimeout):
		return ": the brokers' group.min.session.timeout.ms and group.max.session.timeout.ms bound coordination.session_timeout"
	default:
		return ""
	}
}
