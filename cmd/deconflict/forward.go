package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/forward"
	"github.com/deconflict/deconflict/internal/lease"
	"github.com/deconflict/deconflict/mechanism"
)

// writerLease names the lease of the replica that writes the
// declarations the others hand over (package forward).
const writerLease = "writer"

// replicaListenAddr returns the address the channel between replicas
// listens on for --replica-listen flag, given --listen; "" for none. auto:
// on PostgreSQL, when --listen names a host, that host on a port the
// system picks; otherwise none. none: none.
func replicaListenAddr(flag, listen string, postgres bool) (string, error) {
	switch flag {
	case "none", "":
		return "", nil
	case "auto":
		if !postgres {
			return "", nil
		}
		host, _, err := net.SplitHostPort(listen)
		if err != nil {
			return "", fmt.Errorf("--listen: %w", err)
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			return "", nil // no address the other replicas could be told
		}
		return net.JoinHostPort(host, "0"), nil
	}
	if _, _, err := net.SplitHostPort(flag); err != nil {
		return "", fmt.Errorf("--replica-listen: %w", err)
	}
	return flag, nil
}

// forwarding is this replica's part in handing declarations to the writer
// replica: the listener other replicas hand theirs to, the writer lease
// and the Peer that hands this replica's over.
type forwarding struct {
	srv     *forward.Server
	holding atomic.Bool
	stop    context.CancelFunc // ends the lease loop and the peer
	wg      sync.WaitGroup
}

// parseReplicaURL checks --replica-url: "" (the default), or an https
// URL of a host with no path, query or user. The channel is TLS end to
// end, under a certificate the replicas pin: a TLS terminator in front of
// it would present another certificate and be refused, and plain http is
// refused here, before anything starts. It returns the URL without a
// trailing slash.
func parseReplicaURL(flag string) (string, error) {
	if flag == "" {
		return "", nil
	}
	u, err := url.Parse(flag)
	switch {
	case err != nil:
		return "", fmt.Errorf("--replica-url: %w", err)
	case u.Scheme == "http":
		return "", fmt.Errorf("--replica-url %s: the channel between replicas is TLS; want https://HOST:PORT (forward the TCP port as it is, do not terminate TLS in front of it)", flag)
	case u.Scheme != "https" || u.Host == "" || u.Hostname() == "" || u.Opaque != "":
		return "", fmt.Errorf("--replica-url %q: want https://HOST:PORT", flag)
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", fmt.Errorf("--replica-url %q: want https://HOST:PORT, with no user, path, query or fragment", flag)
	}
	return "https://" + u.Host, nil
}

// startForwarding sets up forwarding on addr (see replicaListenAddr);
// url is the URL the other replicas reach it at, checked by parseReplicaURL
// ("": https:// and the address it listens on). It returns nil when
// there is nothing to do.
func startForwarding(ctx context.Context, st dc.Store, leaser dc.Leaser, mech *mechanism.Mechanism, addr, url string, log *slog.Logger) (*forwarding, error) {
	if addr == "" {
		if url != "" {
			return nil, errors.New("--replica-url needs --replica-listen")
		}
		return nil, nil
	}
	secret, err := forward.Secret(ctx, st)
	if err != nil {
		return nil, err
	}
	cert, err := forward.Certificate(ctx, st)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--replica-listen: %w", err)
	}
	if url == "" {
		url = "https://" + ln.Addr().String()
	}
	f := &forwarding{}
	f.srv = forward.Serve(ln, cert, forward.Handler(mech, secret, url, f.holding.Load, log), log)
	peer := forward.NewPeer(st, url, secret, cert, f.holding.Load, log)
	mech.Replicas().SetForwarder(peer)
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	f.stop = stop
	f.wg.Add(2)
	go func() { defer f.wg.Done(); peer.Run(lctx) }()
	go func() {
		defer f.wg.Done()
		lease.While(lctx, leaser, writerLease, log, func(wctx context.Context) {
			// Take declarations until the lease ends, and tell the
			// others where to hand them. (A replica that hands some to
			// a writer whose lease ended is refused and writes them
			// itself: exactness never rests on who holds it.)
			f.holding.Store(true)
			defer f.holding.Store(false)
			for wctx.Err() == nil {
				pctx, cancel := context.WithTimeout(wctx, 10*time.Second)
				err := forward.Publish(pctx, st, url)
				cancel()
				if err == nil {
					break
				}
				log.Warn("writer lease: cannot publish this replica's URL; trying again", slog.Any("error", err))
				select {
				case <-wctx.Done():
				case <-time.After(time.Second):
				}
			}
			if wctx.Err() != nil {
				return
			}
			log.Info("this replica writes the declarations the others hand over", slog.String("url", url))
			<-wctx.Done()
		})
	}()
	log.Info("replica channel", slog.String("url", url))
	return f, nil
}

// release gives the writer lease up, so that the other replicas stop
// handing declarations to this one, answers those under way, and closes
// the channel once the others let go of their connections to it
// (forward.Server.Release), refusing their hand-overs meanwhile. It may
// be called on a nil forwarding.
func (f *forwarding) release(ctx context.Context) {
	if f == nil {
		return
	}
	f.holding.Store(false)
	f.stop()
	f.wg.Wait()
	_ = f.srv.Release(ctx)
}

// close ends the lease loop and the peer and closes the listener at
// once; after release, it does nothing more. It may be called on a nil
// forwarding.
func (f *forwarding) close() {
	if f == nil {
		return
	}
	f.stop()
	f.wg.Wait()
	_ = f.srv.Close()
}
