"""``python -m evaluation.data.contract``: rewrite ``data/CONTRACT_RULES.md`` from the rule table."""

from evaluation.data.contract.docs import main

raise SystemExit(main())
