package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tidegate/tidegate/internal/nilness"
	"github.com/tidegate/tidegate/internal/withheld"
	"github.com/tidegate/tidegate/middleware"
)

// LocalCache is a replica's own verification cache, as a Broadcaster
// drives it. *middleware.Cache implements it.
type LocalCache interface {
	middleware.Invalidator
	// AddTTLCap makes every entry older than d count as a miss (verified
	// again, and re-cached with a fresh age) until remove is called. Caps
	// held by others (another Broadcaster the cache is registered with)
	// stay in force meanwhile, the smallest winning, so that one
	// Broadcaster hearing revocations again does not lift the cap of one
	// that still cannot. remove must be idempotent.
	AddTTLCap(d time.Duration) (remove func())
	// Purge forgets every entry.
	Purge()
}

// subjectTag starts the message that revokes a subject. Messages name
// subjects only, never a credential or a digest of one: a replica that
// hears one evicts the subject's entries and verifies them again against
// the shared store.
const subjectTag = "sub:"

// purgeMessage asks every replica to purge its caches (any message that is
// not a subject's does, so older replicas obey it too).
const purgeMessage = "purge"

// maxPendingMessages bounds the messages kept for publishing again. One
// more turns them all into a single purge, which stands for every one of
// them: it is published after each of their revocations was stored.
const maxPendingMessages = 64

// Broadcaster is a middleware.Invalidator for several replicas: it applies
// an invalidation to this replica's caches at once and publishes it on a
// Redis channel, and it applies what other replicas publish.
//
// # Which call to make
//
// Only subjects travel between replicas. After revoking in the store, a
// kind calls Invalidate(cred) for the exact credential (local only) and
// InvalidateSubject(subject) (local, and every other replica): the other
// replicas evict all the subject's entries, which is safe because those
// that are still valid are simply verified again. A revocation that no
// subject names (an app's token rotated, an app revoked) calls Purge:
// every replica empties its caches.
//
// # When the subscription is down
//
// A replica that is not subscribed cannot hear revocations. From the
// moment the Broadcaster notices (as soon as the connection fails, and in
// any case within 2.5 × WithHealthInterval, default 2.5 s, of the last
// answer from Redis, which it pings when the channel is quiet; and from the
// start, until the first subscription is confirmed) until it has
// subscribed again, it caps every registered cache
// with AddTTLCap(fallback TTL, default 2 s, WithFallbackTTL): no entry older
// than that is used. A revocation whose message was missed therefore stays
// ineffective on this replica for at most the longer of the two bounds.
// Once subscribed again it Purges every cache (messages published while it
// was away are unknown, so everything cached before is suspect) and then
// removes its cap. The cap is its own: a cache registered with several
// Broadcasters (one per Redis, say) stays capped while any of them is
// down, whatever the others do.
//
// It reconnects by itself, waiting between attempts from 50 ms doubling up
// to 2 s (WithReconnectBackoff).
//
// # When a publish fails
//
// The other replicas' subscriptions may well stay up while Redis refuses
// a PUBLISH (a failover pauses writes, not PINGs), so they would not cap
// their caches: a message is therefore not dropped. One whose PUBLISH
// fails (an error, or no answer within WithPublishTimeout, default 1 s) is
// kept and published again by a goroutine, waiting between attempts from
// the minimum reconnect backoff (50 ms) doubling up to the smaller of its
// maximum and the fallback TTL (2 s with the defaults), until Redis takes
// it. At most 64 messages are kept; one more turns them all into a single
// purge. So every replica still subscribed evicts the revocation's entries
// at the latest that retry cap after Redis takes writes again, plus the
// publish timeout when an attempt was hanging on a dead connection then.
// Messages may arrive out of order or twice (a PUBLISH that timed out may
// still have run): each only evicts, so neither matters. This replica's
// own caches were invalidated at once.
//
// Close stops both goroutines, tries once more (within the publish
// timeout) to publish what is still pending, logs what it could not, and
// leaves the caches capped: a closed Broadcaster hears nothing more, so it
// never removes the caps it holds.
// InvalidateSubject and Purge still evict locally and publish after Close,
// once, without retrying.
type Broadcaster struct {
	withheld.Contents[Broadcaster] // prints as its name alone: no secret in a log

	client redis.UniversalClient
	cfg    config

	mu     sync.Mutex
	caches []LocalCache
	// caps holds, for each of caches (same index), the remove of the cap
	// this Broadcaster holds on it, nil when it holds none: one is held
	// exactly while not subscribed. Close leaves them held.
	caps       []func()
	subscribed bool
	closed     bool
	ps         *redis.PubSub // the current subscription, for Close
	pending    []pendingMessage
	sequence   uint64 // of the last pending message

	watchdog    *time.Timer
	ctx         context.Context
	cancel      context.CancelFunc
	done        chan struct{} // closed when run returns
	wake        chan struct{} // tells republish that a message is pending
	republished chan struct{} // closed when republish returns
	closeOnce   sync.Once
}

// pendingMessage is a message whose PUBLISH failed. Its sequence number
// tells it from a later message with the same payload, which must still be
// published after it.
type pendingMessage struct {
	sequence uint64
	payload  string
}

var _ middleware.Invalidator = (*Broadcaster)(nil)

// built reports whether b was made by NewBroadcaster. A nil or zero
// Broadcaster has no client and no goroutines: Register refuses with
// ErrInternal, the invalidations publish nothing (no cache can have been
// registered with it), and Close does nothing.
func (b *Broadcaster) built() bool { return b != nil && b.client != nil && b.cancel != nil }

// NewBroadcaster starts a Broadcaster on client: a goroutine subscribes to
// the revocation channel and keeps the subscription up until Close. It
// accepts WithPrefix, WithChannel, WithFallbackTTL, WithHealthInterval,
// WithReconnectBackoff, WithPublishTimeout and WithLogger.
func NewBroadcaster(client redis.UniversalClient, opts ...Option) (*Broadcaster, error) {
	if err := checkClient(client); err != nil {
		return nil, err
	}
	cfg, err := newConfig("NewBroadcaster", broadcasterOptions, opts)
	if err != nil {
		return nil, err
	}
	b := &Broadcaster{client: client, cfg: cfg, done: make(chan struct{}),
		wake: make(chan struct{}, 1), republished: make(chan struct{})}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.watchdog = time.AfterFunc(time.Hour, b.silent)
	b.watchdog.Stop()
	go b.run()
	go b.republish()
	return b, nil
}

// Register adds a cache to those the Broadcaster invalidates, purging it
// first: what it holds was verified without hearing the revocations
// published before. While the subscription is down, the cache is capped at
// once.
func (b *Broadcaster) Register(c LocalCache) error {
	if !b.built() {
		return notBuilt("Broadcaster")
	}
	if nilness.Is(c) { // a nil *middleware.Cache too: its first eviction would panic
		return errors.New("redisstore: nil cache")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("redisstore: broadcaster closed")
	}
	// What c cached before now was verified without hearing the
	// revocations published meanwhile: it goes, as after a subscription
	// gap (see up).
	c.Purge()
	b.caches = append(b.caches, c)
	b.caps = append(b.caps, nil)
	if !b.subscribed {
		b.capLocked(len(b.caches) - 1)
	}
	return nil
}

// capLocked caps caches[i] at the fallback TTL, unless this Broadcaster
// holds a cap on it already. Called under b.mu.
func (b *Broadcaster) capLocked(i int) {
	if b.caps[i] == nil {
		b.caps[i] = b.caches[i].AddTTLCap(b.cfg.fallbackTTL)
	}
}

// Subscribed reports whether the revocation subscription is up (and the
// caches therefore free of this Broadcaster's cap).
func (b *Broadcaster) Subscribed() bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.subscribed
}

// snapshot returns the registered caches. Register only appends, so the
// slice it returns is never changed afterwards.
func (b *Broadcaster) snapshot() []LocalCache {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.caches
}

// Invalidate evicts cred from this replica's caches only: messages never
// carry credentials. Call InvalidateSubject too for the other replicas.
func (b *Broadcaster) Invalidate(cred middleware.Credential) {
	for _, c := range b.snapshot() {
		c.Invalidate(cred)
	}
}

// InvalidateSubject evicts every entry of subject from this replica's
// caches at once, then publishes it for every other replica. A publish
// that fails is logged and published again later (see the type's doc).
func (b *Broadcaster) InvalidateSubject(subject string) {
	for _, c := range b.snapshot() {
		c.InvalidateSubject(subject)
	}
	b.publish(subjectTag + subject)
}

// Purge empties this replica's caches at once, then publishes a purge for
// every other replica. It is for revocations a cache cannot pick out by
// subject: basicauth.Service calls it (through its Invalidator) when an
// app's token is rotated or the app revoked, so that the old token stops
// working on every replica, not only on the one that rotated it.
func (b *Broadcaster) Purge() {
	for _, c := range b.snapshot() {
		c.Purge()
	}
	b.publish(purgeMessage)
}

// publish sends payload on the channel. One that fails is logged and kept
// for republish, unless the Broadcaster is closed.
func (b *Broadcaster) publish(payload string) {
	if !b.built() {
		// A revocation the other replicas never hear of keeps their
		// cached credentials alive, and an Invalidator's methods return
		// nothing: the log is the only place to say so.
		slog.Default().Error("tidegate: revocation not published to other replicas: the Broadcaster was not made by NewBroadcaster")
		return
	}
	err := b.send(payload)
	if err == nil {
		return
	}
	if b.enqueue(payload) {
		b.cfg.logger.Warn("tidegate: revocation not published to other replicas yet; retrying",
			"error_type", fmt.Sprintf("%T", err))
		return
	}
	b.cfg.logger.Warn("tidegate: revocation not published to other replicas; broadcaster closed",
		"error_type", fmt.Sprintf("%T", err))
}

// send publishes payload once, bounded by the publish timeout.
func (b *Broadcaster) send(payload string) error {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.publishTimeout)
	defer cancel()
	return b.client.Publish(ctx, b.cfg.channel, payload).Err()
}

// enqueue keeps payload for republish and wakes it; it reports false, and
// keeps nothing, once closed. A purge stands for every message before it,
// and so replaces them; so does a purge in place of the message that
// would overflow the queue.
func (b *Broadcaster) enqueue(payload string) bool {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return false
	}
	overflow := len(b.pending) >= maxPendingMessages
	if overflow {
		payload = purgeMessage
	}
	if payload == purgeMessage {
		b.pending = nil
	}
	b.sequence++
	b.pending = append(b.pending, pendingMessage{sequence: b.sequence, payload: payload})
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default: // already woken
	}
	if overflow { // logged outside the lock, which every invalidation takes
		b.cfg.logger.Warn("tidegate: too many revocations pending; they will be published as one purge",
			"pending", maxPendingMessages)
	}
	return true
}

// republish publishes the pending messages again until Close: when one is
// pending, it retries after the minimum backoff, doubling the wait up to
// retryCap, until all are published.
func (b *Broadcaster) republish() {
	defer close(b.republished)
	for b.awaitPending() {
		wait := min(b.cfg.minBackoff, b.retryCap())
		for b.sleep(wait) && !b.flush() {
			wait = min(2*wait, b.retryCap())
		}
		if b.ctx.Err() == nil {
			b.cfg.logger.Info("tidegate: pending revocations published to other replicas")
		}
	}
}

// awaitPending waits until a message is pending, or returns false once
// closed. A wake may be stale: its message went out with an earlier flush.
func (b *Broadcaster) awaitPending() bool {
	for {
		select {
		case <-b.wake:
			if _, ok := b.firstPending(); ok {
				return b.ctx.Err() == nil
			}
		case <-b.ctx.Done():
			return false
		}
	}
}

// retryCap is the longest wait between two attempts to publish a pending
// message. Capped by the fallback TTL, a message whose PUBLISH failed
// reaches the other replicas no later, once Redis takes writes again, than
// a message missed by an unsubscribed replica stops mattering to it.
func (b *Broadcaster) retryCap() time.Duration {
	return min(b.cfg.maxBackoff, b.cfg.fallbackTTL)
}

// flush publishes the pending messages in order, and stops at the first
// that fails. It reports whether none is left.
func (b *Broadcaster) flush() bool {
	for {
		m, ok := b.firstPending()
		if !ok {
			return true
		}
		if b.send(m.payload) != nil {
			return false
		}
		b.published(m)
	}
}

// firstPending returns the oldest pending message, if any.
func (b *Broadcaster) firstPending() (pendingMessage, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) == 0 {
		return pendingMessage{}, false
	}
	return b.pending[0], true
}

// published forgets m, unless a purge replaced it meanwhile: that purge
// was enqueued after m was sent, and must still go out.
func (b *Broadcaster) published(m pendingMessage) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) > 0 && b.pending[0].sequence == m.sequence {
		b.pending = b.pending[1:]
	}
	if len(b.pending) == 0 {
		b.pending = nil // let the array go
	}
}

// Close stops the subscription and republishing goroutines and waits for
// them, then tries once more to publish the pending messages. The caches
// stay capped; the client is the caller's to close. Close is idempotent.
func (b *Broadcaster) Close() error {
	if !b.built() {
		return nil // no subscription, no goroutine
	}
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		ps := b.ps
		b.mu.Unlock()
		b.cancel()
		if ps != nil {
			_ = ps.Close() // unblocks a pending receive
		}
		<-b.done
		<-b.republished
		b.watchdog.Stop()
		b.down(nil)
		b.flushOnClose()
	})
	return nil
}

// flushOnClose makes a last attempt to publish the pending messages (at
// most one failure, so at most one publish timeout), and logs how many it
// had to drop.
func (b *Broadcaster) flushOnClose() {
	if b.flush() {
		return
	}
	b.mu.Lock()
	dropped := len(b.pending)
	b.pending = nil
	b.mu.Unlock()
	b.cfg.logger.Warn("tidegate: broadcaster closed with revocations not published to other replicas",
		"dropped", dropped)
}

// run keeps a subscription up until Close.
func (b *Broadcaster) run() {
	defer close(b.done)
	wait := b.cfg.minBackoff
	for b.ctx.Err() == nil {
		ps := b.subscribe()
		if ps == nil {
			return
		}
		confirmed, err := b.listen(ps)
		_ = ps.Close()
		b.watchdog.Stop()
		if b.ctx.Err() != nil {
			return
		}
		b.down(err)
		if confirmed {
			wait = b.cfg.minBackoff // it worked for a while: retry soon
		}
		if !b.sleep(wait) {
			return
		}
		wait = min(2*wait, b.cfg.maxBackoff)
	}
}

// subscribe opens a subscription, or returns nil once closed.
func (b *Broadcaster) subscribe() *redis.PubSub {
	ps := b.client.Subscribe(b.ctx, b.cfg.channel)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		_ = ps.Close()
		return nil
	}
	b.ps = ps
	return ps
}

// listen receives until the subscription fails. It pings a quiet
// connection, and gives up when the ping is not answered in time. It
// reports whether the subscription was confirmed, and why it ended.
func (b *Broadcaster) listen(ps *redis.PubSub) (confirmed bool, err error) {
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(b.ctx, b.cfg.health)
		switch {
		case err == nil:
		case isTimeout(err) && !pinged:
			if err := ps.Ping(b.ctx); err != nil {
				return confirmed, err
			}
			pinged = true
			continue
		default:
			return confirmed, err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == b.cfg.channel {
				confirmed = true
			}
		case *redis.Message:
			if m.Channel == b.cfg.channel {
				b.deliver(m.Payload)
			}
		}
		if confirmed {
			b.up() // any answer on a confirmed subscription proves it alive
		}
	}
}

// deliver applies a message from the channel to the local caches. A
// message it cannot read purges them: it may have named anything.
func (b *Broadcaster) deliver(payload string) {
	subject, ok := strings.CutPrefix(payload, subjectTag)
	for _, c := range b.snapshot() {
		if ok {
			c.InvalidateSubject(subject)
		} else {
			c.Purge()
		}
	}
}

// up records a sign of life of a confirmed subscription. Coming from down,
// it purges the caches, then removes its caps on them. Purging first means
// no entry cached while it was deaf outlives the cap; removing only its
// own caps leaves in force those of other Broadcasters still deaf.
func (b *Broadcaster) up() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.watchdog.Reset(2*b.cfg.health + b.cfg.health/2)
	if b.subscribed {
		return
	}
	b.subscribed = true
	for i, c := range b.caches {
		c.Purge()
		if remove := b.caps[i]; remove != nil {
			remove()
			b.caps[i] = nil
		}
	}
	b.cfg.logger.Info("tidegate: revocation subscription up; local caches purged and this broadcaster's cap lifted")
}

// down caps the caches, unless this Broadcaster holds its caps already.
// Close calls it too, and nothing lifts the caps afterwards: a closed
// Broadcaster hears no revocation, so its caches stay capped (fail safe).
func (b *Broadcaster) down(cause error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.subscribed {
		return
	}
	b.subscribed = false
	for i := range b.caches {
		b.capLocked(i)
	}
	if !b.closed {
		b.cfg.logger.Warn("tidegate: revocation subscription lost; local caches capped",
			"fallback_ttl", b.cfg.fallbackTTL, "error_type", fmt.Sprintf("%T", cause))
	}
}

// silent is the watchdog: a subscription that has said nothing, not even
// to a ping, for too long counts as down even before its connection fails.
func (b *Broadcaster) silent() { b.down(errSilent) }

var errSilent = errors.New("redisstore: subscription silent")

// sleep waits d, or returns false once closed.
func (b *Broadcaster) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-b.ctx.Done():
		return false
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
