"""Billing: Cairn's own subscriptions with Stripe (plans, signup, signed webhooks, dunning) and the
clinics' patient bills (fee schedules, invoices, PDF, payments on the clinic's connected account,
refunds). docs/billing.md describes the whole; every Stripe call goes through `gateway`."""
