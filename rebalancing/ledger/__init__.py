"""The trading loop and the tax ledger (docs/ledger.md).

- ``orders``: released proposals become orders (specific lots named for sales); CSV layouts for
  the custodian or OMS, per account and per block;
- ``executions``: fills and cancels in (CSV or records), applied once, atomically;
- ``wash_sales``: the pure matcher (IRC §1091, IRS Pub. 550); ``adjustments`` applies it;
- ``reconciliation``: a custodian's positions compared with the ledger, accepted by a person;
- ``reports``: realised gains (Form 8949 / Schedule D figures), harvest, transition.

Import the modules themselves; this package imports nothing so that the proposal workflow can
call ``orders`` without a cycle.
"""
