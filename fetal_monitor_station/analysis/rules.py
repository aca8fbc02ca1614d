"""Clinical thresholds, each named with its source (see /work/shared/reference/ctg.md §4).

FIGO = Ayres-de-Campos et al., IJGO 131:13-24 (2015); NICHD = Macones et al., Obstet Gynecol
112:661-6 (2008); CN2015 = 中华医学会围产医学分会《电子胎心监护应用专家共识》(2015), which adopts
NICHD for intrapartum; DR = Dawes-Redman (Huntleigh Sonicaid manual §11.3). Values marked
"station" are our operationalisation where the guideline gives no number.
"""

from __future__ import annotations

# --- baseline -------------------------------------------------------------------------
NORMAL_BASELINE_MIN_BPM = 110.0  # FIGO, NICHD, CN2015
NORMAL_BASELINE_MAX_BPM = 160.0  # FIGO, NICHD, CN2015
FIGO_PATHOLOGICAL_BASELINE_BPM = 100.0  # FIGO: baseline < 100 bpm is pathological
BASELINE_WINDOW_S = 600.0  # FIGO/NICHD: baseline estimated over 10-minute windows
BASELINE_MIN_VALID_S = 120.0  # NICHD/CN2015: >= 2 min of identifiable baseline in 10 min
NICHD_BASELINE_ROUND_BPM = 5.0  # NICHD: baseline rounded to increments of 5 bpm
TACHY_BRADY_DURATION_S = 600.0  # FIGO/CN2015: > 160 or < 110 for >= 10 min
DR_BASELINE_MIN_BPM = 116.0  # DR criteria: basal FHR 116-160
PLAUSIBLE_FHR_MIN_BPM = 50.0  # station: outside this range a sample is an artefact
PLAUSIBLE_FHR_MAX_BPM = 240.0  # station

# --- variability ----------------------------------------------------------------------
ABSENT_VARIABILITY_MAX_BPM = 2.0  # NICHD "undetectable"; station: <= 2 bpm band at 4 Hz
MINIMAL_VARIABILITY_MAX_BPM = 5.0  # NICHD: minimal <= 5 bpm; FIGO: reduced < 5 bpm
MARKED_VARIABILITY_MIN_BPM = 25.0  # NICHD: marked > 25; FIGO: increased > 25
FIGO_REDUCED_VARIABILITY_PATHOLOGICAL_S = 50 * 60.0  # FIGO: reduced for > 50 min
FIGO_INCREASED_VARIABILITY_PATHOLOGICAL_S = 30 * 60.0  # FIGO: saltatory for > 30 min
STV_EPOCH_S = 3.75  # DR: 1/16 min epochs
DR_STV_MIN_MS = 3.0  # DR: STV >= 3 ms

# --- accelerations / decelerations -----------------------------------------------------
ACCEL_MIN_RISE_BPM = 15.0  # FIGO/NICHD: rise >= 15 bpm
ACCEL_MIN_DURATION_S = 15.0  # FIGO/NICHD: lasting >= 15 s
ACCEL_PRETERM_RISE_BPM = 10.0  # NICHD: < 32 weeks: 10 bpm for 10 s
ACCEL_PRETERM_DURATION_S = 10.0  # NICHD
PRETERM_WEEKS = 32  # NICHD
ACCEL_MAX_DURATION_S = 600.0  # NICHD: >= 10 min is a baseline change
DECEL_MIN_FALL_BPM = 15.0  # FIGO/NICHD: fall >= 15 bpm
DECEL_MIN_DURATION_S = 15.0  # FIGO/NICHD: lasting >= 15 s
FIGO_PROLONGED_DECEL_S = 180.0  # FIGO: prolonged > 3 min
NICHD_PROLONGED_DECEL_S = 120.0  # NICHD: prolonged >= 2 min and < 10 min
FIGO_SINGLE_DECEL_PATHOLOGICAL_S = 300.0  # FIGO: one deceleration > 5 min is pathological
VARIABLE_MAX_ONSET_TO_NADIR_S = 30.0  # NICHD/FIGO: abrupt = nadir within 30 s of onset
LATE_MIN_NADIR_AFTER_ACME_S = 15.0  # FIGO/NICHD: late nadir after the acme (station: > 15 s)
LATE_MIN_ONSET_AFTER_CONTRACTION_S = 20.0  # FIGO: late onset > 20 s after contraction onset
REPETITIVE_FRACTION = 0.5  # FIGO: with > 50 % of contractions; NICHD recurrent >= 50 %
NICHD_RECURRENT_WINDOW_S = 20 * 60.0  # NICHD: recurrent over 20 min
FIGO_REPETITIVE_PATHOLOGICAL_S = 30 * 60.0  # FIGO: repetitive late/prolonged > 30 min
FIGO_REPETITIVE_PATHOLOGICAL_REDUCED_VAR_S = 20 * 60.0  # FIGO: > 20 min if reduced variability

# --- sinusoidal -------------------------------------------------------------------------
SINUSOIDAL_MIN_CPM = 3.0  # FIGO/NICHD: 3-5 cycles per minute
SINUSOIDAL_MAX_CPM = 5.0
SINUSOIDAL_MIN_AMPLITUDE_BPM = 5.0  # FIGO (UNVERIFIED): amplitude 5-15 bpm
SINUSOIDAL_MAX_AMPLITUDE_BPM = 15.0
NICHD_SINUSOIDAL_S = 20 * 60.0  # NICHD: >= 20 min
FIGO_SINUSOIDAL_S = 30 * 60.0  # FIGO: > 30 min

# --- contractions -----------------------------------------------------------------------
TACHYSYSTOLE_PER_10_MIN = 5.0  # FIGO/NICHD: > 5 contractions in 10 min averaged over 30 min
TACHYSYSTOLE_WINDOW_S = 30 * 60.0
CONTRACTION_MIN_DURATION_S = 30.0  # station (CN2015 CST counts contractions of >= 40 s)
CONTRACTION_MIN_RISE = 10.0  # station: toco units above the toco baseline

# --- NST (CN2015 table, adapted from SOGC 2007; UNVERIFIED against the full text) -------
NST_WINDOW_S = 40 * 60.0  # >= 2 accelerations in 40 min = reactive
NST_MAX_S = 80 * 60.0  # < 2 in > 80 min = non-reactive
NST_MIN_ACCELERATIONS = 2
