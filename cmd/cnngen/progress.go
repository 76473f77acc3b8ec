package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/cnngen/cnngen/runtime"
	"github.com/cnngen/cnngen/viz"
)

// plainEvery is how often a progress reporter writing to a file or pipe
// prints a line.
const plainEvery = 10 * time.Second

// barRefresh is the shortest interval between two redraws of the live bar
// (and between two reformattings of its cost and rate).
const barRefresh = 100 * time.Millisecond

// progress reports how far a training run has got, on stderr: a live bar
// with the steps done, steps/s, the elapsed time and the ETA, followed by
// the last cost, train accuracy and samples/s, when stderr is a terminal;
// otherwise a plain line every plainEvery, such as
//
//	cnngen: step 500/2000 (25%)  8.1 steps/s  13100 samples/s  ETA 3m5s  cost/sample 0.0310  train acc 0.997
//
// Feed it every step with Step (the training loop's per-step callback), print
// log lines through Println so that they do not run into the bar, and call
// Finish at the end. A progress is used from the training goroutine only.
type progress struct {
	w     io.Writer
	live  bool
	now   func() time.Time
	every time.Duration // plain mode: the interval between lines

	bar     *progressbar.ProgressBar // live mode, from the first step
	ended   bool                     // the bar is full or stopped, its line ended
	started bool
	start   time.Time // when the first step seen was reported
	done    int       // steps seen
	samples int       // samples in the steps seen
	first   int       // samples in the first step seen
	last    runtime.StepLog
	shown   time.Time // when the last line was printed or the bar's text updated
}

// newProgress returns a reporter writing to stderr: a live bar if stderr is
// a terminal, plain lines otherwise.
func newProgress(stderr io.Writer) *progress {
	return newProgressMode(stderr, isTerminal(stderr), plainEvery)
}

// newProgressMode returns a reporter writing to w, live or plain with a
// line every every.
func newProgressMode(w io.Writer, live bool, every time.Duration) *progress {
	return &progress{w: w, live: live, now: time.Now, every: every}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Step records one training step (its log entry, which carries the run's
// total number of steps and the batch size) and updates the display.
func (p *progress) Step(s runtime.StepLog) {
	now := p.now()
	if !p.started {
		p.started, p.start, p.first, p.shown = true, now, s.Samples, now
		if p.live {
			p.bar = progressbar.NewOptions(s.Steps-s.Step,
				progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetDescription("train"),
				progressbar.OptionSetWidth(30),
				progressbar.OptionShowCount(),
				progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("steps"),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionSetElapsedTime(true),
				progressbar.OptionShowDescriptionAtLineEnd(),
				progressbar.OptionThrottle(barRefresh),
				progressbar.OptionSetRenderBlankState(true),
			)
		}
	}
	p.done++
	p.samples += s.Samples
	p.last = s
	final := s.Step == s.Steps-1
	if p.live {
		if final || now.Sub(p.shown) >= barRefresh {
			p.bar.Describe(p.status(now, false))
			p.shown = now
		}
		p.bar.Add(1)
		if p.bar.IsFinished() && !p.ended {
			// End the bar's line now, so that the last log line starts on
			// its own.
			fmt.Fprintln(p.w)
			p.ended = true
		}
		return
	}
	if now.Sub(p.shown) >= p.every && !final {
		fmt.Fprintf(p.w, "cnngen: %s\n", p.status(now, true))
		p.shown = now
	}
}

// status describes the run's state: in plain mode all of it, for the bar
// only what the bar does not show itself.
func (p *progress) status(now time.Time, plain bool) string {
	s := p.last
	secs := now.Sub(p.start).Seconds()
	// The first step's time is not measured (its start is the clock's
	// origin), so rates count the steps after it.
	var stepRate, sampleRate float64
	if secs > 0 && p.done > 1 {
		stepRate = float64(p.done-1) / secs
		sampleRate = float64(p.samples-p.first) / secs
	}
	acc := fmt.Sprintf("cost/sample %.4f  train acc %.3f", s.Cost, s.TrainAccuracy())
	if s.Regression {
		acc = fmt.Sprintf("cost/sample %.4g", s.Cost)
	}
	if !plain {
		return fmt.Sprintf("%.0f samples/s  %s", sampleRate, acc)
	}
	eta := "?"
	if stepRate > 0 {
		left := s.Steps - s.Step - 1
		eta = (time.Duration(float64(left) / stepRate * float64(time.Second))).Round(time.Second).String()
	}
	return fmt.Sprintf("step %d/%d (%d%%)  %.1f steps/s  %.0f samples/s  ETA %s  %s",
		s.Step+1, s.Steps, 100*(s.Step+1)/max(s.Steps, 1), stepRate, sampleRate, eta, acc)
}

// Println prints a line to w (typically stdout, the training log), first
// clearing the live bar from the terminal so that the line does not run
// into it; the bar is drawn again at the next step.
func (p *progress) Println(w io.Writer, a ...any) {
	if p.bar != nil && !p.ended {
		p.bar.Clear()
	}
	fmt.Fprintln(w, a...)
}

// Finish ends the display: the bar stays on screen (filled, or where an
// interrupted run left it) with the cursor moved to the next line.
func (p *progress) Finish() {
	if p.bar == nil || p.ended {
		return
	}
	p.bar.Exit()
	fmt.Fprintln(p.w)
	p.ended = true
}

// Hook returns a function for runtime.TrainOptions.Log, to be given with
// LogEvery 1 so that it sees every step: it feeds each step to p and prints
// the tutorial's log line of the first, the last and every logEvery-th step
// (only the first and last for 0) to stdout, passing those entries to
// onLog too when it is not nil (to record the curve for -plot).
func (p *progress) Hook(stdout io.Writer, logEvery int, onLog func(runtime.StepLog)) func(runtime.StepLog) {
	return func(s runtime.StepLog) {
		p.Step(s)
		if s.Step == 0 || s.Step == s.Steps-1 || (logEvery > 0 && s.Step%logEvery == 0) {
			p.Println(stdout, s)
			if onLog != nil {
				onLog(s)
			}
		}
	}
}

// interrupt turns the first Ctrl-C (SIGINT) or SIGTERM into a request for
// the training loop to stop after the current step, so that the run can
// save its checkpoint and exit cleanly. After that first signal the default
// action is restored: a second Ctrl-C ends the process at once (checkpoint
// saves are atomic, so even that leaves no broken file).
type interrupt struct {
	ctx       context.Context
	stop      context.CancelFunc
	requested atomic.Bool
	released  chan struct{}
	done      chan struct{}
	once      sync.Once
}

// notifyInterrupt installs the handler; call Release when training is over.
// The notice of the first signal goes to stderr.
func notifyInterrupt(stderr io.Writer) *interrupt {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	in := &interrupt{ctx: ctx, stop: stop, released: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(in.done)
		select {
		case <-ctx.Done():
			select {
			case <-in.released:
				return // Release cancelled the context: no signal
			default:
			}
			in.requested.Store(true)
			stop() // restore the default action for a second signal
			fmt.Fprintln(stderr, "\ncnngen: interrupted: stopping after the current step (Ctrl-C again to quit at once)")
		case <-in.released:
		}
	}()
	return in
}

// Requested reports whether a signal has asked the run to stop: the
// training loop's stop hook (runtime.TrainOptions.Stop once it exists).
func (in *interrupt) Requested() bool { return in.requested.Load() }

// Context is done once a signal has arrived (or the handler was released).
func (in *interrupt) Context() context.Context { return in.ctx }

// Release uninstalls the handler, restoring the default action of the
// signals. It may be called more than once.
func (in *interrupt) Release() {
	in.once.Do(func() {
		close(in.released)
		in.stop()
		<-in.done
	})
}

// curveRecorder collects the learning curve of a run for -plot: each
// logged step's cost and batch accuracy and, when a test set is given, the
// model's accuracy on it at that step (before the step's update, like the
// cost). Evaluating inside the log callback is safe because the optimizer
// reads only the parameters and their gradients, which Forward leaves alone.
type curveRecorder struct {
	model  runtime.Model
	test   *runtime.Dataset
	eval   runtime.Evaluator
	points []viz.Point
	err    error
	// pending is the test accuracy that Tested gave for the next point.
	pending *viz.Point
}

// Tested gives the test accuracy at step, measured elsewhere (by a child
// trainer), for the point that Record adds next for that step.
func (r *curveRecorder) Tested(step int, accuracy float64) {
	r.pending = &viz.Point{Step: step, TestAccuracy: accuracy, Tested: true}
}

// Record adds the point of the log entry s; use it as progress.Hook's onLog.
func (r *curveRecorder) Record(s runtime.StepLog) {
	pt := viz.PointOf(s)
	if p := r.pending; p != nil && p.Step == s.Step {
		pt.TestAccuracy, pt.Tested = p.TestAccuracy, true
	}
	r.pending = nil
	if r.test != nil && r.test.Len() > 0 && r.err == nil {
		score, err := r.eval.Evaluate(r.model, r.test)
		if err != nil {
			r.err = err
		} else {
			pt.TestAccuracy, pt.Tested = score.Accuracy(), true
		}
	}
	r.points = append(r.points, pt)
}

// Write draws the recorded curve into the PNG file at path.
func (r *curveRecorder) Write(path string) error {
	if r.err != nil {
		return fmt.Errorf("plotting the test accuracy: %v", r.err)
	}
	return viz.Curve(r.points, path)
}

// describe says what the recorded curve shows, for the message that
// reports the picture: "learning curve, 2000 steps" (the steps of the run
// up to its last point, earlier runs of a resumed one included), and
// "without the test accuracy" when no point has it.
func (r *curveRecorder) describe() string {
	if len(r.points) == 0 {
		return "learning curve"
	}
	s := "learning curve, " + count(r.points[len(r.points)-1].Step+1, "step")
	for _, p := range r.points {
		if p.Tested {
			return s
		}
	}
	return s + ", without the test accuracy"
}
