/* The push claim protocol of policy/push.hpp (basic_tracker), as Spin checks it.
 *
 * Each step of the C++ code that touches shared state is one Promela step: an atomic
 * block stands for one atomic instruction (a CAS, a fetch_and), never for a sequence, so
 * the interleavings Spin explores include the C++ code's races: a claimer's idle check
 * before its CAS, a target's idle bit cleared before its slot is renewed.
 *
 * A CPU's slot is BUSY, FREE (idle, unclaimed), CLAIMED or DELIVERED; claiming is a CAS
 * from FREE, so a scan's stale view of the idle bit cannot claim a busy CPU.
 *
 * Processes: P pushers, T targets, and a clock that makes a held claim expirable (its
 * ttl passed). Pusher 0 never dies; the others may die holding a claim, which only expiry
 * then frees. A target goes idle or takes a delivered task (busy); a waker makes targets
 * busy another way, until it stops.
 *
 * Checked (models/check-push-claims, the ctest `push.model_check`):
 *  - no double delivery: an assertion, at every delivery, that the target received
 *    nothing else since it last went idle;
 *  - no starvation: LTL `claims_end`, every claim on target 0 ends (delivered, released,
 *    expired or voided), under weak fairness.
 * Bounds: P pushers and T targets (-DP=.. -DT=..; the script runs 3 x 1 and 2 x 2 for
 * safety, 2 x 2 for the LTL). -DUNCLAIMED models the April 2025 RFC instead (no claim:
 * the idle check, then the attach); its assertion must fail.
 */
#ifndef P
#define P 3
#endif
#ifndef T
#define T 2
#endif

mtype = { BUSY, FREE, CLAIMED, DELIVERED };

mtype slot[T] = BUSY;   /* the truth: claims are CASes on it */
byte owner[T];          /* the claimant, while CLAIMED or DELIVERED */
bool idle[T];           /* the idle bit: a hint scanners read first */
bool expirable[T];      /* the claim's deadline passed */
byte received[T];       /* deliveries since the target last went idle */

#ifndef UNCLAIMED
/* try_claim after a scan read the idle bit (maybe stale): the CAS from FREE decides. */
inline claim(t, me, ok) {
  ok = false;
  if
  :: idle[t] ->
     atomic {
       if
       :: slot[t] == FREE -> slot[t] = CLAIMED; owner[t] = me; expirable[t] = false; ok = true
       :: else -> skip
       fi
     }
  :: else -> skip
  fi
}
inline deliver(t, me) {
  atomic {   /* CAS CLAIMED(me) -> DELIVERED */
    if
    :: slot[t] == CLAIMED && owner[t] == me ->
       slot[t] = DELIVERED;
       expirable[t] = false;
       received[t]++;
       assert(received[t] <= 1)
    :: else -> skip
    fi
  }
}
#else
/* The April 2025 RFC: no claim, the idle_cpu() check, then the attach. Must fail. */
inline claim(t, me, ok) {
  ok = idle[t]
}
inline deliver(t, me) {
  atomic {
    slot[t] = DELIVERED;
    owner[t] = me;
    received[t]++;
    assert(received[t] <= 1)
  }
}
#endif

/* expire (break_claim): a CAS from an expired CLAIMED slot to FREE. -DNOEXPIRE removes
 * it, and the LTL must fail: a dead claimant then starves its target. */
inline expire(t) {
#ifndef NOEXPIRE
  atomic {
    if
    :: slot[t] == CLAIMED && expirable[t] -> slot[t] = FREE; owner[t] = 0; expirable[t] = false
    :: else -> skip
    fi
  }
#else
  skip
#endif
}

/* A pusher's scans visit the targets in turn (the wrap order): each scan breaks the
 * visited target's claim if it expired, then tries to claim it. */
proctype pusher(byte me) {
  byte t = 0;
  bool ok;
  do
  :: expire(t);
     claim(t, me, ok);
     if
     :: ok ->
        if
        :: true -> deliver(t, me)
        :: true -> atomic {   /* release: CAS CLAIMED(me) -> FREE */
             if
             :: slot[t] == CLAIMED && owner[t] == me -> slot[t] = FREE; owner[t] = 0; expirable[t] = false
             :: else -> skip
             fi
           }
        :: me != 0 -> goto dead   /* dies holding the claim */
        fi
     :: else -> skip
     fi;
     ok = false;
     t = (t + 1) % T
  od;
dead:
  skip
}

proctype target(byte t) {
  do
  :: /* set_idle: the slot turns FREE (a new idle period), then the idle bit is set */
     slot[t] == BUSY ->
     atomic { slot[t] = FREE; received[t] = 0 };
     idle[t] = true
  :: /* takes its delivered task (set_busy): the idle bit cleared, then the slot BUSY */
     slot[t] == DELIVERED ->
     idle[t] = false;
     atomic { slot[t] = BUSY; owner[t] = 0 }
  od
}

/* Wakeups make targets busy another way (set_busy), whatever their slot holds: at most
 * WAKES of them (default 1), and the waker may stop for good at any point, so fairness
 * never forces a wakeup: a claim has to end on an idle CPU by the protocol alone. */
#ifndef WAKES
#define WAKES 1
#endif
proctype waker() {
  byte t;
  byte left = WAKES;
  do
  :: left > 0 ->
     select(t : 0 .. T - 1);
     if
     :: slot[t] != BUSY && slot[t] != DELIVERED ->
        idle[t] = false;
        atomic { slot[t] = BUSY; owner[t] = 0; expirable[t] = false; t = 0; left-- }
     :: else -> t = 0
     fi
  :: break
  od
}

/* Time passes: the ttl of the held claims runs out, one target after the other. */
proctype clock() {
  byte t = 0;
  do
  :: atomic {
       if
       :: slot[t] == CLAIMED -> expirable[t] = true
       :: else -> skip
       fi;
       t = (t + 1) % T
     }
  od
}

init {
  byte i;
  atomic {
    i = 0;
    do
    :: i < T -> slot[i] = FREE; idle[i] = true; run target(i); i++
    :: else -> break
    od;
    i = 0;
    do
    :: i < P -> run pusher(i); i++
    :: else -> break
    od;
    run clock();
    run waker()
  }
}

/* Every claim on target 0 ends. */
ltl claims_end { [] ((slot[0] == CLAIMED) -> <> (slot[0] != CLAIMED)) }
