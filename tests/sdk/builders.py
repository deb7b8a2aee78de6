"""Builds a complete billing setup (one entity of every config kind) through the official SDK.

Used by the CRUD, strict-mode, billing and rating tests so each sends exactly what a real SDK user would.
Every code gets a unique suffix because the shared emulator keeps entities for the whole session.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import m3ter

# How long a bill job may take to reach COMPLETE.
POLL_TIMEOUT_S = 30.0
STATUSES = {"PENDING", "INITIALIZING", "RUNNING", "COMPLETE", "CANCELLED"}

# One data field to bill on, one string field, one derived field: enough to exercise the schema.
DATA_FIELDS: list[dict[str, Any]] = [
    {"category": "MEASURE", "code": "requests", "name": "Requests", "unit": "count"},
    {"category": "WHERE", "code": "region", "name": "Region"},
]
DERIVED_FIELDS: list[dict[str, Any]] = [
    {"category": "MEASURE", "code": "doubled", "name": "Doubled", "unit": "count", "calculation": "requests*2"},
]
# Tiered: the first 50 units at 0.5 each, everything above at 0.1.
PRICING_BANDS: list[dict[str, Any]] = [
    {"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 0.5},
    {"lowerLimit": 50, "fixedPrice": 0, "unitPrice": 0.1},
]


# The kinds as `Setup` attribute names, in the kind table's order (creation order); deletes run in
# reverse. `tests/it/kinds.rs` checks that this is the table's list.
KINDS = [
    "product",
    "counter",
    "meter",
    "aggregation",
    "compound_aggregation",
    "currency",
    "transaction_type",
    "credit_reason",
    "debit_reason",
    "plan_template",
    "plan",
    "pricing",
    "counter_pricing",
    "plan_group",
    "plan_group_link",
    "account",
    "contract",
    "account_plan",
    "commitment",
    "balance",
    "counter_adjustment",
    "webhook",
    "integration_configuration",
    "scheduled_event_configuration",
    "notification_configuration",
    "resource_group",
    "permission_policy",
    "external_mapping",
]


# SDK attributes that are not the kind plus "s".
_RESOURCES = {"currency": "currencies", "permission_policy": "permission_policies"}

# The currencies the suite's plan templates and plan groups use. Once the org's currency picklist
# has any entry, a currency field must name one of its entries (rule `currency.known`), so every
# setup makes sure these exist; they are shared by the session and never deleted.
SHARED_CURRENCIES = ("USD", "EUR", "GBP")


# The type of the suite's resource groups (the path segment of `/resourcegroups/{type}`).
GROUP_TYPE = "account"


class TypedResource:
    """A typed SDK resource (`client.resource_groups`: every call takes the group's `type`) bound to
    one type, so the kind-generic tests call it like any other. `list` lists that type's groups."""

    def __init__(self, sdk: Any, type_: str) -> None:
        self._sdk, self._type = sdk, type_

    def create(self, **kw: Any) -> Any:
        return self._sdk.create(self._type, **kw)

    def list(self, **kw: Any) -> Any:
        return self._sdk.list(self._type, **kw)

    def retrieve(self, id_: str, **kw: Any) -> Any:
        return self._sdk.retrieve(id_, type=self._type, **kw)

    def update(self, id_: str, **kw: Any) -> Any:
        return self._sdk.update(id_, type=self._type, **kw)

    def delete(self, id_: str, **kw: Any) -> Any:
        return self._sdk.delete(id_, type=self._type, **kw)


def resource(client: m3ter.M3ter, kind: str) -> Any:
    """The SDK resource for a kind (`client.plan_templates` for "plan_template")."""
    if kind == "resource_group":
        return TypedResource(client.resource_groups, GROUP_TYPE)
    return getattr(client, _RESOURCES.get(kind, kind + "s"))


def ensure_shared_currencies(client: m3ter.M3ter) -> None:
    """Creates the missing ones of `SHARED_CURRENCIES` in the org's picklist."""
    have = {c.code for c in client.currencies.list(codes=list(SHARED_CURRENCIES))}
    for code in SHARED_CURRENCIES:
        if code not in have:
            client.currencies.create(code=code, name=code, max_decimal_places=2, rounding_mode="HALF_UP")


@dataclass
class Setup:
    """The entities of one billing setup, as the SDK returned them on create."""

    tag: str
    product: Any
    counter: Any
    meter: Any
    aggregation: Any
    compound_aggregation: Any
    currency: Any
    transaction_type: Any
    credit_reason: Any
    debit_reason: Any
    plan_template: Any
    plan: Any
    pricing: Any
    counter_pricing: Any
    plan_group: Any
    plan_group_link: Any
    account: Any
    contract: Any
    account_plan: Any
    commitment: Any
    balance: Any
    counter_adjustment: Any
    webhook: Any
    integration_configuration: Any
    scheduled_event_configuration: Any
    notification_configuration: Any
    resource_group: Any
    permission_policy: Any
    external_mapping: Any

    def delete_all(self, client: m3ter.M3ter) -> None:
        """Deletes everything, dependents first (the emulator refuses to orphan references): the
        reverse of `KINDS`, so a new kind needs no line here."""
        for kind in reversed(KINDS):
            resource(client, kind).delete(getattr(self, kind).id)


def new_tag() -> str:
    """A short random suffix for codes (identifier-code safe: starts with a letter)."""
    return "t" + uuid.uuid4().hex[:10]


def build_setup(
    client: m3ter.M3ter,
    *,
    tag: str | None = None,
    standing_charge: float = 10.0,
    account_plan_start: str = "2024-12-01T00:00:00Z",
) -> Setup:
    """Creates product → counter, meter → aggregation → compound aggregation, the four picklist
    entries, template → plan → pricing and counter pricing, a plan group with the plan linked, an
    account with its contract, account plan, commitment, balance and counter adjustment, in
    dependency order, and returns them. The setup's own currency is used by nothing (the templates
    use the shared ones)."""
    tag = tag or new_tag()
    ensure_shared_currencies(client)
    product = client.products.create(code=f"prod_{tag}", name=f"Product {tag}")
    counter = client.counters.create(code=f"seats_{tag}", name=f"Seats {tag}", unit="seats", product_id=product.id)
    meter = client.meters.create(
        code=f"meter_{tag}",
        name=f"Meter {tag}",
        product_id=product.id,
        data_fields=DATA_FIELDS,
        derived_fields=DERIVED_FIELDS,
    )
    aggregation = client.aggregations.create(
        code=f"agg_{tag}",
        name=f"Requests {tag}",
        meter_id=meter.id,
        target_field="requests",
        aggregation="SUM",
        rounding="NONE",
        quantity_per_unit=1,
        unit="requests",
    )
    compound = client.compound_aggregations.create(
        code=f"cagg_{tag}",
        name=f"Compound {tag}",
        product_id=product.id,
        calculation=f"agg_{tag} * 2",
        rounding="UP",
        quantity_per_unit=1,
        unit="units",
    )
    currency = client.currencies.create(
        code=f"cur_{tag}", name=f"Currency {tag}", max_decimal_places=3, rounding_mode="HALF_EVEN"
    )
    transaction_type = client.transaction_types.create(code=f"tt_{tag}", name=f"Transaction type {tag}")
    credit_reason = client.credit_reasons.create(code=f"cr_{tag}", name=f"Credit reason {tag}")
    debit_reason = client.debit_reasons.create(code=f"dr_{tag}", name=f"Debit reason {tag}")
    template = client.plan_templates.create(
        code=f"tmpl_{tag}",
        name=f"Template {tag}",
        product_id=product.id,
        currency="USD",
        standing_charge=standing_charge,
        bill_frequency="MONTHLY",
    )
    plan = client.plans.create(code=f"plan_{tag}", name=f"Plan {tag}", plan_template_id=template.id)
    pricing = client.pricings.create(
        plan_id=plan.id,
        aggregation_id=aggregation.id,
        start_date="2024-01-01T00:00:00Z",
        cumulative=True,
        pricing_bands=PRICING_BANDS,
    )
    counter_pricing = client.counter_pricings.create(
        plan_id=plan.id,
        counter_id=counter.id,
        start_date="2024-01-01T00:00:00Z",
        pricing_bands=[{"lowerLimit": 0, "fixedPrice": 0, "unitPrice": 5}],
        pro_rate_running_total=True,
    )
    plan_group = client.plan_groups.create(
        code=f"group_{tag}", name=f"Group {tag}", currency="USD", minimum_spend=100, standing_charge=1
    )
    plan_group_link = client.plan_group_links.create(plan_group_id=plan_group.id, plan_id=plan.id)
    account = client.accounts.create(
        code=f"acct_{tag}",
        name=f"Account {tag}",
        email_address=f"billing+{tag}@example.com",
        address={"addressLine1": "1 Main St", "locality": "Springfield", "country": "US"},
    )
    # The account-level entities are dated 2030, after every period the billing tests bill, so
    # that a setup's bills stay those of its plan alone.
    contract = client.contracts.create(
        account_id=account.id,
        code=f"contract_{tag}",
        name=f"Contract {tag}",
        start_date="2030-01-01",
        end_date="2031-01-01",
    )
    account_plan = client.account_plans.create(
        account_id=account.id, plan_id=plan.id, start_date=account_plan_start
    )
    commitment = client.commitments.create(
        account_id=account.id,
        contract_id=contract.id,
        currency="USD",
        amount=1000,
        start_date="2030-01-01",
        end_date="2031-01-01",
        product_ids=[product.id],
        line_item_types=["USAGE"],
    )
    balance = client.balances.create(
        account_id=account.id,
        code=f"balance_{tag}",
        name=f"Balance {tag}",
        currency="USD",
        start_date="2030-01-01T00:00:00Z",
        end_date="2031-01-01T00:00:00Z",
        contract_id=contract.id,
    )
    counter_adjustment = client.counter_adjustments.create(
        account_id=account.id, counter_id=counter.id, date="2030-01-01", value=5
    )
    webhook = client.webhooks.create(
        code=f"hook_{tag}",
        name=f"Hook {tag}",
        description="Events of the suite",
        url=f"https://example.com/hooks/{tag}",
        credentials={"type": "M3TER_SIGNED_REQUEST", "api_key": f"key-{tag}", "secret": f"secret-{tag}"},
    )
    integration_configuration = client.integration_configurations.create(
        destination="Webhook",
        destination_id=webhook.id,
        entity_type=f"Bill{tag}",
        name=f"Bills of {tag}",
        config_data={"format": "json", "batch": {"size": 10}},
        credentials={"type": "M3TER_SIGNED_REQUEST", "name": f"Signing {tag}"},
    )
    scheduled_event_configuration = client.scheduled_event_configurations.create(
        name=f"scheduled.bill.due_{tag}", entity="Bill", field="dueDate", offset=10
    )
    # Based on the scheduled event: an event type of the org, with the bill's fields.
    notification_configuration = client.notification_configurations.create(
        code=f"notify_{tag}",
        name=f"Bill due {tag}",
        description="Ten days past due",
        event_name=scheduled_event_configuration.name,
        calculation="new.billTotal > 100 AND new.locked == false",
        active=True,
    )
    resource_group = client.resource_groups.create(GROUP_TYPE, name=f"Group {tag}")
    client.resource_groups.add_resource(resource_group.id, type=GROUP_TYPE, target_id=account.id, target_type="ITEM")
    permission_policy = client.permission_policies.create(
        name=f"Readers {tag}",
        permission_policy=[{"effect": "ALLOW", "action": ["CONFIG_RETRIEVE"], "resource": ["config:product/*"]}],
    )
    external_mapping = client.external_mappings.create(
        m3ter_entity="Account",
        m3ter_id=account.id,
        external_system="Stripe",
        external_table="Customer",
        external_id=f"cus_{tag}",
    )
    return Setup(
        tag=tag,
        product=product,
        counter=counter,
        meter=meter,
        aggregation=aggregation,
        compound_aggregation=compound,
        currency=currency,
        transaction_type=transaction_type,
        credit_reason=credit_reason,
        debit_reason=debit_reason,
        plan_template=template,
        plan=plan,
        pricing=pricing,
        counter_pricing=counter_pricing,
        plan_group=plan_group,
        plan_group_link=plan_group_link,
        account=account,
        contract=contract,
        account_plan=account_plan,
        commitment=commitment,
        balance=balance,
        counter_adjustment=counter_adjustment,
        webhook=webhook,
        integration_configuration=integration_configuration,
        scheduled_event_configuration=scheduled_event_configuration,
        notification_configuration=notification_configuration,
        resource_group=resource_group,
        permission_policy=permission_policy,
        external_mapping=external_mapping,
    )


def run_bill_job(
    client: m3ter.M3ter,
    account_id: str,
    bill_date: str = "2025-01-01",
    last_date: str = "2024-12-31",
) -> Any:
    """Creates a bill job (default: December 2024) for one account and polls it until COMPLETE."""
    job = client.bill_jobs.create(
        bill_date=bill_date,
        last_date_in_billing_period=last_date,
        billing_frequency="MONTHLY",
        account_ids=[account_id],
    )
    assert job.id and job.status in STATUSES, job
    assert job.type in (None, "CREATE")
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while job.status != "COMPLETE":
        assert job.status in STATUSES - {"CANCELLED"}, f"bill job went to {job.status}"
        assert time.monotonic() < deadline, f"bill job not COMPLETE after {POLL_TIMEOUT_S}s: {job.status}"
        time.sleep(0.1)
        job = client.bill_jobs.retrieve(job.id)
    return job
