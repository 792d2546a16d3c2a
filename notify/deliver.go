package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	dc "github.com/deconflict/deconflict"
)

// Defaults of Options.
const (
	DefaultPoll       = time.Second
	DefaultMaxBackoff = time.Hour
	// DefaultTimeout bounds each attempt: connecting, sending the event and
	// reading the answer.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxConcurrent is how many requests are in flight at most, to
	// all receivers together.
	DefaultMaxConcurrent = 256
	// DefaultPerParty is how many requests of one party's webhooks are in
	// flight at most: as many as a party may have webhooks
	// (mechanism.MaxWebhooks), so a party's webhooks never wait for each
	// other, only, once DefaultMaxConcurrent are in flight, for their
	// party's turn.
	DefaultPerParty = 16
)

const (
	batchSize = 100 // events read per transaction
	userAgent = "deconflict-webhooks/1"
)

// Options configure a Deliverer. The zero value of every field is usable.
type Options struct {
	// Allow lists address ranges deliveries may connect to although the
	// egress rule (dc.Egress) refuses them by default (serve
	// --webhook-allow). Every address dialled is checked, after DNS.
	Allow []netip.Prefix
	// TLSConfig configures https deliveries (the system's roots if nil).
	TLSConfig *tls.Config
	// Timeout bounds each attempt (default DefaultTimeout).
	Timeout time.Duration
	// MaxConcurrent and PerParty bound the requests in flight, in all and
	// per party (defaults DefaultMaxConcurrent and DefaultPerParty); free
	// slots go to the waiting parties in turn.
	MaxConcurrent, PerParty int
	// LogInterval is how often a summary of failing deliveries is logged
	// (default DefaultLogInterval); see failLog.
	LogInterval time.Duration
	// Now is the clock (time.Now if nil). It stamps attempts and decides
	// when a failed webhook is due again.
	Now func() time.Time
	// Logger receives delivery failures and recoveries (slog.Default if
	// nil). It never receives secrets, bodies or full URLs.
	Logger *slog.Logger
	// Changed, if set, returns a channel closed when new events are
	// committed (mechanism.Mechanism.Changed); Run then delivers them at
	// once instead of at the next poll.
	Changed func() <-chan struct{}
	// Poll is how often Run looks for new events without a signal from
	// Changed, such as events committed by another process (default 1s).
	Poll time.Duration
	// MaxBackoff caps the wait between failed attempts (default 1h).
	MaxBackoff time.Duration
	// Delivered, if set, is called in the transaction that records a
	// successful delivery of e to w, so that the delivery can be put on
	// the record with it (mechanism.Webhooks.RecordDelivery).
	Delivered func(ctx context.Context, tx dc.Tx, w *dc.Webhook, e *dc.Event, st dc.Delivery) error
}

// Deliverer delivers events to the webhooks of a store. Its methods may
// be called concurrently; a webhook is never delivered by two of them at
// once within one Deliverer.
type Deliverer struct {
	store  dc.Store
	opts   Options
	log    *slog.Logger
	client *http.Client
	slots  *fairSlots
	flog   *failLog
	mu     sync.Mutex
	busy   map[hookKey]bool
	jitter func() float64 // in [0,1)
}

type hookKey struct{ party, name string }

// New returns a Deliverer of the webhooks of store.
func New(store dc.Store, opts Options) *Deliverer {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent
	}
	if opts.PerParty <= 0 {
		opts.PerParty = DefaultPerParty
	}
	if opts.LogInterval <= 0 {
		opts.LogInterval = DefaultLogInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "webhooks")
	return &Deliverer{
		store:  store,
		opts:   opts,
		log:    log,
		client: newClient(dc.Egress{Allow: opts.Allow}, opts.TLSConfig),
		slots:  newFairSlots(opts.MaxConcurrent, opts.PerParty),
		flog:   newFailLog(log, opts.LogInterval),
		busy:   map[hookKey]bool{},
		jitter: rand.Float64,
	}
}

// Run delivers until ctx ends: it starts delivering every webhook that is
// due and has events to deliver, then waits for Changed, the poll interval
// or the earliest retry, whichever comes first. Each webhook is delivered
// in its own goroutine, so a slow receiver does not hold up the others
// (see the package documentation).
// Run returns when ctx ends and its deliveries have stopped; an event in
// flight then is delivered again by the next Run.
func (d *Deliverer) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	kick := make(chan struct{}, 1)
	done := func(_ int, progressed bool, err error) {
		if err != nil {
			d.log.Error("webhook delivery", "err", err)
		}
		if progressed { // its state changed: reschedule
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	}
	for ctx.Err() == nil {
		var changed <-chan struct{}
		if d.opts.Changed != nil {
			changed = d.opts.Changed()
		}
		wait := d.opts.Poll
		d.flog.tick(d.opts.Now())
		next, err := d.start(ctx, &wg, done)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Error("webhook delivery: list webhooks", "err", err)
			}
		} else if next != nil {
			wait = min(wait, max(next.Sub(d.opts.Now()), 0))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-changed:
		case <-kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// DeliverOnce makes one pass: it delivers every webhook that is due (not
// waiting to retry at Options.Now) until it has caught up with the events
// or an attempt fails, and returns how many events it delivered. Webhooks
// being delivered by a concurrent Run or DeliverOnce are left to it. The
// error is of the store; a receiver's failure is not an error.
func (d *Deliverer) DeliverOnce(ctx context.Context) (delivered int, err error) {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	_, err = d.start(ctx, &wg, func(n int, _ bool, err error) {
		mu.Lock()
		defer mu.Unlock()
		delivered += n
		if err != nil {
			errs = append(errs, err)
		}
	})
	wg.Wait()
	if err != nil {
		errs = append(errs, err)
	}
	return delivered, errors.Join(errs...)
}

// start starts a delivery goroutine for every webhook that is due, has
// events to deliver and is not already being delivered; each calls done
// when it stops. It returns the earliest retry time of the webhooks that
// wait to retry.
func (d *Deliverer) start(ctx context.Context, wg *sync.WaitGroup, done func(n int, progressed bool, err error)) (*time.Time, error) {
	var (
		hooks []*dc.Webhook
		last  int64
	)
	err := d.store.View(ctx, func(tx dc.Tx) (err error) {
		if hooks, err = tx.Webhooks(ctx, ""); err != nil {
			return err
		}
		last, err = tx.LastSeq(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	now := d.opts.Now()
	var next *time.Time
	for _, w := range hooks {
		if w.Delivery.DeliveredSeq >= last {
			continue
		}
		if na := w.Delivery.NextAttempt; na != nil && na.After(now) {
			if next == nil || na.Before(*next) {
				next = na
			}
			continue
		}
		k := hookKey{w.Party, w.Name}
		d.mu.Lock()
		if d.busy[k] {
			d.mu.Unlock()
			continue
		}
		d.busy[k] = true
		d.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, progressed, err := d.deliverHook(ctx, k)
			d.mu.Lock()
			delete(d.busy, k)
			d.mu.Unlock()
			done(n, progressed, err)
		}()
	}
	return next, nil
}

// errGone stops delivery to a webhook that was deleted, re-created or is
// being delivered by someone else.
var errGone = errors.New("webhook gone or delivered elsewhere")

// deliverHook delivers one webhook until it has caught up, an attempt
// fails or ctx ends. progressed reports whether its delivery state
// changed.
func (d *Deliverer) deliverHook(ctx context.Context, k hookKey) (n int, progressed bool, err error) {
	for ctx.Err() == nil {
		var (
			w   *dc.Webhook
			evs []*dc.Event
		)
		err := d.store.View(ctx, func(tx dc.Tx) (err error) {
			if w, err = tx.Webhook(ctx, k.party, k.name); err != nil {
				return err
			}
			evs, err = tx.Events(ctx, w.Delivery.DeliveredSeq, batchSize)
			return err
		})
		switch {
		case dc.ErrorCode(err) == dc.ENotFound:
			return n, progressed, nil
		case err != nil:
			if ctx.Err() != nil {
				return n, progressed, nil
			}
			return n, progressed, fmt.Errorf("webhook %s/%s: %w", k.party, k.name, err)
		case len(evs) == 0:
			return n, progressed, nil
		}
		if na := w.Delivery.NextAttempt; na != nil && na.After(d.opts.Now()) {
			return n, progressed, nil
		}
		// Deliver the batch, then store the delivery state once: one
		// write transaction per batch rather than per event keeps the
		// store free for declarations. A crash before that write sends
		// the batch again, with the same webhook-ids (at least once).
		stored, st := w.Delivery, w.Delivery
		type done struct {
			e  *dc.Event
			st dc.Delivery
		}
		var delivered []done
		changed, failed := false, false
		for i, e := range evs {
			if i > 0 {
				// A head may have deleted or changed the webhook since the
				// batch began: a read (no disk flush) before each event.
				cur, err := d.reread(ctx, w)
				if errors.Is(err, errGone) {
					return n, progressed, nil
				} else if err != nil {
					break
				}
				w = cur
			}
			if !wants(w, e) {
				// Also an event that failed before the webhook changed
				// not to want it: it is no longer failing.
				st.DeliveredSeq, changed = e.Seq, true
				st.Attempts, st.NextAttempt, st.FailingSince = 0, nil, nil
				continue
			}
			ok := d.attempt(ctx, w, e, &st)
			if ctx.Err() != nil { // shutting down: the event is in flight
				break
			}
			changed = true
			if !ok {
				failed = true
				break
			}
			delivered = append(delivered, done{e, st})
		}
		if !changed {
			return n, progressed, nil
		}
		var also func(dc.Tx) error
		if d.opts.Delivered != nil && len(delivered) > 0 {
			also = func(tx dc.Tx) error {
				for _, x := range delivered {
					if err := d.opts.Delivered(ctx, tx, w, x.e, x.st); err != nil {
						return err
					}
				}
				return nil
			}
		}
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		cur, err := d.put(pctx, w, stored, st, also)
		cancel()
		if err != nil {
			if errors.Is(err, errGone) || ctx.Err() != nil {
				return n, progressed, nil
			}
			return n, progressed, fmt.Errorf("webhook %s/%s: store delivery: %w", k.party, k.name, err)
		}
		w, progressed = cur, true
		n += len(delivered)
		if failed || ctx.Err() != nil {
			return n, progressed, nil
		}
	}
	return n, progressed, nil
}

// wants reports whether the webhook is to receive the event: its party
// may see it (as a head) and it subscribes to its type.
func wants(w *dc.Webhook, e *dc.Event) bool {
	return slices.Contains(w.Events, e.Type) && e.VisibleTo(dc.Actor{Party: w.Party, Role: dc.RoleHead})
}

// reread returns the webhook as stored now, or errGone if it was deleted
// or re-created.
func (d *Deliverer) reread(ctx context.Context, w *dc.Webhook) (*dc.Webhook, error) {
	var cur *dc.Webhook
	err := d.store.View(ctx, func(tx dc.Tx) (err error) {
		cur, err = tx.Webhook(ctx, w.Party, w.Name)
		return err
	})
	if dc.ErrorCode(err) == dc.ENotFound || (err == nil && !cur.CreatedAt.Equal(w.CreatedAt)) {
		return nil, errGone
	}
	return cur, err
}

// put stores the delivery state st of w if its stored state is still
// was: a webhook deleted or re-created meanwhile is left alone (errGone).
// It returns the webhook as stored now, with any change to its URL,
// events or secret made meanwhile, to deliver the next events with. also,
// if set, runs in the same transaction.
func (d *Deliverer) put(ctx context.Context, w *dc.Webhook, was, st dc.Delivery, also func(dc.Tx) error) (*dc.Webhook, error) {
	var cur *dc.Webhook
	err := d.store.Update(ctx, func(tx dc.Tx) (err error) {
		if cur, err = tx.Webhook(ctx, w.Party, w.Name); err != nil {
			return err
		}
		c := cur.Delivery
		if !cur.CreatedAt.Equal(w.CreatedAt) || c.DeliveredSeq != was.DeliveredSeq ||
			c.Delivered != was.Delivered || c.Attempts != was.Attempts {
			return errGone
		}
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		return tx.PutDelivery(ctx, w.Party, w.Name, st)
	})
	if dc.ErrorCode(err) == dc.ENotFound {
		return nil, errGone
	}
	if err != nil {
		return nil, err
	}
	cur.Delivery = st
	return cur, nil
}
