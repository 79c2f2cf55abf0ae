package remote

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tmaps/console/store"
)

// maxReconnectDelay caps Watch's pause between reconnection attempts.
const maxReconnectDelay = 5 * time.Second

// backoff is the pause before reconnection attempt n (0 first): first,
// doubled each time, at most maxReconnectDelay.
func backoff(first time.Duration, n int) time.Duration {
	d := first
	for i := 0; i < n && d < maxReconnectDelay; i++ {
		d *= 2
	}
	return min(d, maxReconnectDelay)
}

// Watch implements store.Store over GET /v1/events (server-sent events). The
// subscription is in place when Watch returns. When the stream breaks, Watch
// tries once at once; if that fails it delivers store.EventOffline and
// keeps trying forever with a growing pause (at most 5 s), then delivers
// store.EventResync, because events may have been missed. The channel
// closes when ctx ends, the store is closed or the token is refused.
func (s *Store) Watch(ctx context.Context) (<-chan store.Event, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	wctx, cancel := context.WithCancel(ctx)
	resp, err := s.openEvents(wctx)
	for attempt := 0; err != nil && attempt < s.opt.Retries; attempt++ {
		var ne *netError
		if !errors.As(err, &ne) || wctx.Err() != nil {
			break
		}
		select {
		case <-time.After(s.opt.RetryDelay << attempt):
		case <-wctx.Done():
		}
		resp, err = s.openEvents(wctx)
	}
	if err != nil {
		cancel()
		var ne *netError
		if errors.As(err, &ne) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, s.unavailable(ne.err)
		}
		return nil, err
	}
	out := make(chan store.Event, 16)
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		resp.Body.Close()
		cancel()
		return nil, store.ErrClosed
	}
	s.wg.Add(2)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer cancel()
		select {
		case <-s.closeCh:
		case <-wctx.Done():
		}
	}()
	go func() {
		defer s.wg.Done()
		defer cancel()
		defer close(out)
		s.follow(wctx, resp, out)
	}()
	return out, nil
}

// openEvents connects to the event stream; the server subscribes before it
// answers, so nothing after the answer is missed.
func (s *Store) openEvents(ctx context.Context) (*http.Response, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	req, err := s.newRequest(ctx, call{method: "GET", path: "/v1/events"}, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, &netError{err}
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		data := make([]byte, 64<<10)
		n, _ := resp.Body.Read(data)
		return nil, s.answerError(resp, data[:n])
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		return nil, fmt.Errorf("the tmaps API at %s answered /v1/events with %q, not an event stream: is a proxy buffering it?", s.display, ct)
	}
	return resp, nil
}

// follow reads the stream into out, reconnecting until ctx ends.
func (s *Store) follow(ctx context.Context, resp *http.Response, out chan<- store.Event) {
	send := func(ev store.Event) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		s.read(ctx, resp, out)
		resp.Body.Close()
		if ctx.Err() != nil {
			return
		}
		// A stream that merely went quiet or was cut by a proxy comes back
		// at once; a daemon that is gone does not, and the subscriber hears
		// of it before the pauses.
		var err error
		if resp, err = s.openEvents(ctx); err != nil {
			if !retryable(err) || !send(store.Event{Kind: store.EventOffline}) {
				return
			}
			if resp = s.reconnect(ctx); resp == nil {
				return
			}
		}
		if !send(store.Event{Kind: store.EventResync}) {
			resp.Body.Close()
			return
		}
	}
}

// retryable reports whether a failure to open the stream may heal: a
// refused token or a closed store will not.
func retryable(err error) bool {
	return !errors.Is(err, ErrUnauthorized) && !errors.Is(err, store.ErrClosed)
}

// reconnect tries again with a growing pause until it connects (nil when
// ctx ends or the failure will not heal).
func (s *Store) reconnect(ctx context.Context) *http.Response {
	for n := 0; ; n++ {
		select {
		case <-time.After(backoff(s.opt.ReconnectDelay, n)):
		case <-ctx.Done():
			return nil
		}
		resp, err := s.openEvents(ctx)
		if err == nil {
			return resp
		}
		if !retryable(err) {
			return nil
		}
	}
}

// read delivers the events of one connection until it breaks or goes quiet
// for longer than IdleTimeout.
func (s *Store) read(ctx context.Context, resp *http.Response, out chan<- store.Event) {
	idle := time.AfterFunc(s.opt.IdleTimeout, func() { resp.Body.Close() })
	defer idle.Stop()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 4096), 1<<20)
	var data strings.Builder
	for sc.Scan() {
		idle.Reset(s.opt.IdleTimeout)
		line := sc.Text()
		switch {
		case line == "":
			if data.Len() == 0 {
				continue
			}
			var ev store.Event
			err := json.Unmarshal([]byte(data.String()), &ev)
			data.Reset()
			if err != nil || ev.Kind == "" {
				ev = store.Event{Kind: store.EventResync}
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		case strings.HasPrefix(line, ":"):
			// comment: keep-alive
		case strings.HasPrefix(line, "data:"):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
}
