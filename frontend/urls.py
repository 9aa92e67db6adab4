"""The firm host's pages (config/urls.py includes them at the root)."""

from django.urls import path

from .views import accounts, assignments, audit, backtests, book, dashboard, ledger, proposals, runs, security

urlpatterns = [
    path("", dashboard.firm_home, name="home"),
    path("accounts/", accounts.account_list, name="account_list"),
    path("accounts/assign/", assignments.accounts_assign_page, name="accounts_assign"),
    path("accounts/<int:pk>/", accounts.account_detail, name="account_detail"),
    path("accounts/<int:pk>/preview/", accounts.account_preview, name="account_preview"),
    path("accounts/<int:pk>/rebalance/", accounts.account_rebalance, name="account_rebalance"),
    path("proposals/<int:pk>/", proposals.proposal_detail, name="proposal_detail"),
    path("proposals/<int:pk>/decide/", proposals.proposal_decide, name="proposal_decide"),
    path("approvals/", proposals.approvals, name="approvals"),
    path("approvals/bulk/", proposals.approvals_bulk, name="approvals_bulk"),
    path("models/", book.model_list, name="model_list"),
    path("models/new/", book.model_create_view, name="model_create"),
    path("models/<int:pk>/", book.model_detail, name="model_detail"),
    path("models/<int:pk>/preview/", book.model_preview, name="model_preview"),
    path("templates/", book.template_list, name="template_list"),
    path("templates/new/", book.template_create, name="template_create"),
    path("templates/<int:pk>/", book.template_detail, name="template_detail"),
    path("templates/<int:pk>/preview/", book.template_preview, name="template_preview"),
    path("runs/", runs.run_list, name="run_list"),
    path("runs/<int:pk>/", runs.run_detail, name="run_detail"),
    path("runs/<int:pk>/cancel/", runs.run_cancel_view, name="run_cancel"),
    path("backtests/", backtests.backtest_list, name="backtest_list"),
    path("backtests/<int:pk>/", backtests.backtest_detail, name="backtest_detail"),
    path("audit/", audit.audit_log, name="audit_log"),
    path("security/", security.security_page, name="security"),
    path("accounts/<int:pk>/ledger/", ledger.account_ledger, name="account_ledger"),
    path("ledger/orders/", ledger.orders_page, name="ledger_orders"),
    path("ledger/executions/", ledger.executions_page, name="ledger_executions"),
    path("ledger/reconciliations/", ledger.reconciliations_page, name="ledger_reconciliations"),
    path("ledger/reconciliations/<int:pk>/", ledger.reconciliation_detail, name="ledger_reconciliation_detail"),
    path("ledger/reconciliations/<int:pk>/decide/", ledger.reconciliation_decide, name="ledger_reconciliation_decide"),
    path("reports/realised/", ledger.report_realised, name="ledger_report_realised"),
    path("reports/harvest/", ledger.report_harvest, name="ledger_report_harvest"),
    path("reports/transition/", ledger.report_transition, name="ledger_report_transition"),
]
