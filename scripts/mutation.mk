# scripts/mutation.mk: mutation testing of the reference against the
# conformance suite (scripts/mutate.py).  Included by the top Makefile.
#   make mutation          the whole campaign: every mutant of ref/src/*.c;
#                          report in build/mutation/ (report.txt, the
#                          survivors with their diffs; mutation-report.json,
#                          Stryker's schema); the unit tests run on the
#                          survivors as information.  Long: hours on two
#                          cores.  It fails below MUTATION_TARGET percent of
#                          the non-equivalent mutants killed.
#   make mutation-sample   a fixed sample of MUTATION_SAMPLE live mutants (the
#                          seed fixes which), run by `make check`: a few
#                          minutes.  It proves the whole machinery works on a
#                          clean machine (mutants, coverage, the sanitizer
#                          stage, the report) and fails below
#                          MUTATION_SAMPLE_TARGET: a floor that catches a
#                          suite that stopped killing, not a measurement (6
#                          mutants cannot measure a rate to a few percent).
# Knobs: MUTATION_JOBS, MUTATION_ARGS (more mutate.py options, e.g.
# --files framer.c).

MUTATION_TARGET ?= 90
MUTATION_JOBS ?= 2
MUTATION_SAMPLE ?= 6
MUTATION_SEED ?= 1
MUTATION_SAMPLE_TARGET ?= 70
MUTATION_ARGS ?=

mutation: deps
	python3 scripts/mutate.py --jobs $(MUTATION_JOBS) --unit \
	    --min-score $(MUTATION_TARGET) $(MUTATION_ARGS)

mutation-sample: deps
	python3 scripts/mutate.py --sample $(MUTATION_SAMPLE) --seed $(MUTATION_SEED) \
	    --jobs $(MUTATION_JOBS) --min-score $(MUTATION_SAMPLE_TARGET) \
	    --build build/mutation-sample $(MUTATION_ARGS)

.PHONY: mutation mutation-sample
