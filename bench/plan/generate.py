#!/usr/bin/env python3
"""Writes the `m3ter plan` benchmark workload as desired-state YAML.

Usage: generate.py OUT_DIR [ENTITIES]

ENTITIES (default 10000) is rounded up to whole copies of the seed set: each
copy has its own product, meter, two aggregations, plan template, plan, two
pricings, three accounts and three account plans (14 entities), with codes
suffixed by the copy number. Copies are spread over files of 50 copies, so
the loader also sees many files. No variables: the codes are written out.
"""

import os
import sys

PER_COPY = 14
COPIES_PER_FILE = 50


def copy(i: int) -> dict:
    s = f"c{i:05d}"
    return {
        "products": f"""  - code: aws_lambda_{s}
    name: AWS Lambda {s}
""",
        "meters": f"""  - code: meter_{s}
    name: Compute and Requests Meter {s}
    product: aws_lambda_{s}
    dataFields:
      - {{code: memory_{s}, name: Memory Consumption, category: MEASURE, unit: GB}}
      - {{code: time_{s}, name: Execution Time, category: MEASURE, unit: seconds}}
    derivedFields:
      - {{code: duration_{s}, name: Duration, category: MEASURE, unit: GB-seconds,
          calculation: memory_{s}*time_{s}}}
""",
        "aggregations": f"""  - code: requests_{s}
    name: Total Number of Requests {s}
    meter: meter_{s}
    targetField: memory_{s}
    aggregation: COUNT
    rounding: NONE
    quantityPerUnit: 1000000
    unit: Requests
  - code: duration_agg_{s}
    name: Duration Aggregation {s}
    meter: meter_{s}
    targetField: duration_{s}
    aggregation: SUM
    rounding: NONE
    quantityPerUnit: 1
    unit: GB-seconds
""",
        "planTemplates": f"""  - code: template_{s}
    name: Lambda Template {s}
    product: aws_lambda_{s}
    currency: USD
    standingCharge: 0.0
    billFrequency: MONTHLY
    billFrequencyInterval: 1
""",
        "plans": f"""  - code: plan_{s}
    name: Lambda Plan {s}
    planTemplate: template_{s}
""",
        "pricings": f"""  - plan: plan_{s}
    aggregation: duration_agg_{s}
    description: Duration
    type: DEBIT
    startDate: 2024-11-01
    cumulative: true
    tiersSpanPlan: false
    minimumSpend: 0.0
    pricingBands:
      - {{lowerLimit: 0, fixedPrice: 0.0, unitPrice: 0.00001833337}}
      - {{lowerLimit: 6e9, fixedPrice: 0.0, unitPrice: 0.0000165}}
      - {{lowerLimit: 15e9, fixedPrice: 0.0, unitPrice: 0.00001466674}}
  - plan: plan_{s}
    aggregation: requests_{s}
    description: Requests
    type: DEBIT
    startDate: 2024-11-01
    cumulative: true
    tiersSpanPlan: false
    minimumSpend: 0.0
    pricingBands:
      - {{lowerLimit: 0, fixedPrice: 0.0, unitPrice: 0.22}}
""",
        "accounts": "".join(
            f"""  - code: {who}_{s}
    name: {name} {s}
    emailAddress: billing@example.com
    address: {{addressLine1: 1235 E Higgins Rd, locality: Schaumburg, region: IL,
               postCode: "60007", country: US}}
"""
            for who, name in ACCOUNTS
        ),
        "accountPlans": "".join(
            f"""  - account: {who}_{s}
    plan: plan_{s}
    startDate: 2024-12-01
    childBillingMode: PARENT_BREAKDOWN
"""
            for who, _ in ACCOUNTS
        ),
    }


ACCOUNTS = [("mickey", "Mickey Mouse Inc"), ("donald", "Donald Duck Ltd"), ("pluto", "Pluto LLP")]
SECTIONS = ["products", "meters", "aggregations", "planTemplates", "plans", "pricings", "accounts",
            "accountPlans"]


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    entities = int(sys.argv[2]) if len(sys.argv) == 3 else 10000
    copies = -(-entities // PER_COPY)
    os.makedirs(out, exist_ok=True)
    for start in range(0, copies, COPIES_PER_FILE):
        parts = [copy(i) for i in range(start, min(start + COPIES_PER_FILE, copies))]
        with open(os.path.join(out, f"copies_{start:05d}.yaml"), "w") as f:
            for section in SECTIONS:
                f.write(f"{section}:\n")
                f.writelines(p[section] for p in parts)
    print(f"{copies} copies, {copies * PER_COPY} entities in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
