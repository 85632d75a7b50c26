package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// maxBatch is the most reads one round trip carries.
const maxBatch = 16

// loadQueue lets the reads of concurrent Loads share round trips. One call
// at a time, the collector, acquires a connection of the pool for the
// reads that come meanwhile, which wait in the queue; once it has one, it
// takes up to maxBatch-1 of them along and sends them all in one write
// (a pipeline of Bind and Execute messages and one Sync) and hands the
// collector's part to the oldest call still waiting. A read that finds no
// collector becomes one, and so, when a connection is free, goes alone at
// once as it would without the queue; only while every connection is busy
// do reads pile up and share round trips.
type loadQueue struct {
	mu         sync.Mutex
	calls      []*loadCall // waiting for the collector, oldest first
	collecting bool        // a call is acquiring a connection for the queue
}

// The states of a loadCall, changed under loadQueue.mu.
const (
	callQueued     = iota // in loadQueue.calls
	callCollecting        // the collector
	callTaken             // taken by a batch, or given the pool's error
)

// loadCall is one read.
type loadCall struct {
	ctx    context.Context
	st     *statement
	params [][]byte
	state  int
	// wake carries, once each, the promotion of a queued call to
	// collector and the results of a taken call.
	wake  chan struct{}
	batch *batch
	// Set before the results' wake:
	row row
	err error
	// prepares is set when the batch prepares the call's statement
	// just before the call.
	prepares bool
	alone    bool // the batch could not run the call: it runs on its own
	// abandoned is set when the call gave up waiting: it is not
	// recycled, since the queue or a batch may still hold it.
	abandoned bool
}

// row is a copy of the values of a result row of at most two columns
// (pgconn reuses its buffers); found is false for no row.
type row struct {
	v     [2][]byte
	found bool
}

// copyRow copies the values of a result row into r.
func (r *row) copyRow(v [][]byte) {
	r.found = true
	for i := range min(len(v), len(r.v)) {
		if v[i] != nil {
			r.v[i] = append(make([]byte, 0, len(v[i])), v[i]...)
		}
	}
}

// batch is what the calls of a batch share.
type batch struct {
	calls []*loadCall
	// live counts the calls that still wait for the batch's results; the
	// last to stop waiting before them cancels ctx.
	live atomic.Int32
	// ctx ends only through cancel: one call giving up does not end the
	// others' reads. (pgconn reads no values from it.)
	ctx    context.Context
	cancel context.CancelFunc
}

// query runs st, a statement that reads at most one row of at most two
// columns and changes nothing, and returns a copy of that row.
func (s *Store) query(ctx context.Context, st *statement, params [][]byte) (row, error) {
	if !s.batched {
		return s.queryAlone(ctx, nil, st, params)
	}
	c := calls.Get().(*loadCall)
	c.ctx, c.st, c.params = ctx, st, params
	r, err := s.enqueue(c)
	if !c.abandoned {
		// No one else holds c, and its wake is empty.
		*c = loadCall{wake: c.wake}
		calls.Put(c)
	}
	return r, err
}

// calls recycles the loadCalls that ended normally.
var calls = sync.Pool{New: func() any { return new(loadCall) }}

// enqueue makes c the collector, or puts it in the queue behind the
// collector.
func (s *Store) enqueue(c *loadCall) (row, error) {
	q := &s.loads
	q.mu.Lock()
	if q.collecting {
		c.state = callQueued
		if c.wake == nil {
			c.wake = make(chan struct{}, 1)
		}
		q.calls = append(q.calls, c)
		q.mu.Unlock()
		return s.wait(c)
	}
	q.collecting = true
	c.state = callCollecting
	q.mu.Unlock()
	return s.collect(c)
}

// collect acquires a connection as the queue's collector and runs c on
// it, with the calls waiting meanwhile.
func (s *Store) collect(c *loadCall) (row, error) {
	q := &s.loads
	conn, err := s.pool.Acquire(c.ctx)
	if err != nil && c.ctx.Err() == nil && s.pool.Stat().TotalConns() == 0 {
		// The pool has no connection at all and could not make one (the
		// server is down, or the pool closed): the calls waiting get the
		// same answer now rather than each in turn. With connections
		// open, one that comes free may still serve them.
		q.mu.Lock()
		for _, o := range q.calls {
			o.state, o.err = callTaken, err
			o.wake <- struct{}{}
		}
		clear(q.calls)
		q.calls = q.calls[:0]
		q.handOff()
		q.mu.Unlock()
		return row{}, err
	}
	q.mu.Lock()
	if err != nil {
		q.handOff()
		q.mu.Unlock()
		return row{}, err
	}
	n := min(len(q.calls), maxBatch-1)
	if n == 0 {
		q.handOff()
		q.mu.Unlock()
		return s.queryAlone(c.ctx, conn, c.st, c.params)
	}
	b := &batch{calls: append(append(make([]*loadCall, 0, n+1), c), q.calls[:n]...)}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.live.Store(int32(n + 1))
	if c.wake == nil {
		c.wake = make(chan struct{}, 1)
	}
	for _, o := range b.calls {
		o.state, o.batch = callTaken, b
	}
	q.calls = slices.Delete(q.calls, 0, n)
	q.handOff()
	q.mu.Unlock()
	// The batch runs in a goroutine of its own, so that each of its
	// calls, this one included, returns as soon as its context ends.
	go s.runBatch(conn, b)
	return s.wait(c)
}

// handOff makes the oldest waiting call the collector, or records that
// there is none. The caller holds q.mu.
func (q *loadQueue) handOff() {
	if len(q.calls) == 0 {
		q.collecting = false
		return
	}
	next := q.calls[0]
	q.calls = slices.Delete(q.calls, 0, 1)
	next.state = callCollecting
	next.wake <- struct{}{}
}

// wait waits until c is made the collector or its batch has run it, or
// until its context ends.
func (s *Store) wait(c *loadCall) (row, error) {
	q := &s.loads
	select {
	case <-c.wake:
	case <-c.ctx.Done():
		q.mu.Lock()
		switch c.state {
		case callQueued:
			if i := slices.Index(q.calls, c); i >= 0 {
				q.calls = slices.Delete(q.calls, i, i+1)
			}
		case callCollecting:
			// Made the collector as it gave up: the next one is.
			q.handOff()
		case callTaken:
			if b := c.batch; b != nil && b.live.Add(-1) == 0 {
				b.cancel()
			}
		}
		q.mu.Unlock()
		// The queue or a batch may still hold c, and send to its wake.
		c.abandoned = true
		return row{}, c.ctx.Err()
	}
	// The wake's send came after the state's change: no lock is needed to
	// read it, and no one else changes it now.
	switch {
	case c.state == callCollecting:
		return s.collect(c)
	case c.alone:
		return s.queryAlone(c.ctx, nil, c.st, c.params)
	}
	return c.row, c.err
}

// queryAlone runs st on its own, on conn if it is not nil (the call then
// releases it) or on a connection of the pool, as exec does.
func (s *Store) queryAlone(ctx context.Context, conn *pgxpool.Conn, st *statement, params [][]byte) (row, error) {
	var r row
	_, err := s.execWith(ctx, conn, st, params, func(v [][]byte) error {
		r.copyRow(v)
		return nil
	})
	return r, err
}

// runBatch sends the calls of b on conn in one write, with one Sync,
// reads their results, releases conn and wakes every call. A statement
// not yet prepared on conn is prepared in the same write, before its first
// call, as prepareAndExec does. The reads end early only when all the
// calls have stopped waiting for them. Every call left without a result
// because a statement or the connection failed runs on its own instead:
// the statements only read, so running one again is harmless, and alone
// each gets its own error and exec's retries.
func (s *Store) runBatch(conn *pgxpool.Conn, b *batch) {
	defer func() {
		for _, c := range b.calls {
			c.wake <- struct{}{}
		}
	}()
	defer b.cancel()
	defer conn.Release()

	pc := conn.Conn().PgConn()
	p := pc.StartPipeline(b.ctx)
	data := pc.CustomData()
	// The statements the batch prepares on conn, and then their
	// descriptions, in the order sent.
	var (
		preparing []*statement
		described []*pgconn.StatementDescription
	)
	for _, c := range b.calls {
		st := c.st
		if s.noPrepare {
			p.SendQueryParams(st.sql, c.params, st.oids, st.formats, st.results)
			continue
		}
		if sd, ok := data[st.key].(*pgconn.StatementDescription); ok {
			p.SendQueryStatement(sd, c.params, st.formats, st.results)
			continue
		}
		if !slices.Contains(preparing, st) {
			sendPrepare(p, st)
			preparing = append(preparing, st)
			c.prepares = true
		}
		p.SendQueryPrepared(st.name, c.params, st.formats, st.results)
	}
	failed := p.Sync() != nil
	for _, c := range b.calls {
		if failed {
			c.alone = true
			continue
		}
		if c.prepares {
			sd, err := readPrepare(p, c.st)
			if err != nil {
				failed, c.alone = true, true
				continue
			}
			described = append(described, sd)
		}
		res, err := p.GetResults()
		rr, ok := res.(*pgconn.ResultReader)
		if err != nil || !ok {
			failed, c.alone = true, true
			continue
		}
		for rr.NextRow() {
			if !c.row.found {
				c.row.copyRow(rr.Values())
			}
		}
		if _, err := rr.Close(); err != nil {
			failed, c.alone = true, true
		}
	}
	// Close reads the Sync's answer. Every result is read, or the calls
	// without one run alone; an error closing the pipeline concerns only
	// the connection, which the pool then discards.
	if p.Close() == nil && !failed {
		for i, sd := range described {
			data[preparing[i].key] = sd
		}
	}
}

// sendPrepare queues in p the preparation of st, before its first run on
// the connection: Close, then Parse and Describe of the named statement.
// Closing a statement that does not exist is not an error: after a failed
// first run, the name may or may not be taken.
func sendPrepare(p *pgconn.Pipeline, st *statement) {
	p.SendDeallocate(st.name)
	p.SendPrepare(st.name, st.sql, st.oids)
}

// readPrepare reads the answers to what sendPrepare sent and returns st's
// description, completed with what ExecStatement and SendQueryStatement
// use, which the pipeline's lacks.
func readPrepare(p *pgconn.Pipeline, st *statement) (*pgconn.StatementDescription, error) {
	if _, err := p.GetResults(); err != nil { // CloseComplete
		return nil, err
	}
	res, err := p.GetResults()
	if err != nil {
		return nil, err
	}
	sd, ok := res.(*pgconn.StatementDescription)
	if !ok {
		return nil, fmt.Errorf("unexpected pipeline result %T", res)
	}
	sd.Name, sd.SQL = st.name, st.sql
	return sd, nil
}
