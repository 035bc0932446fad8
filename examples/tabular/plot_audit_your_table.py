"""
===========================================================
Audit your own table: which named groups could be damaged?
===========================================================

The audit answers one question about **your** training data: which groups could
an attacker with a small budget silently damage, and does a defense help? Here
"your" table is the German credit data as it comes (strings, integers,
booleans; the target ``credit`` is ``"good"`` or ``"bad"``), written to a CSV
file as a user would have it. One call, the same as the command line

.. code-block:: bash

   skpoison audit --data german.csv --target credit --features personal_status_sex

reads it, splits it into the victim's training rows, the attacker's rows and
test rows, builds a victim from the column types, attacks every group of the
``personal_status_sex`` values (FeatureMatch) and of similar rows (ClusterMatch,
named by the conditions that pick a cluster out), and reports the groups an
attacker damages most, by name, with and without TRIM (Jagielski et al.,
"Subpopulation Data Poisoning Attacks", CCS 2021).
"""

# %%
# The table, as a file
# --------------------
import tempfile
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt

from skpoison.audit import setting_audit, table_setting
from skpoison.datasets import load_german_credit

folder = Path(tempfile.mkdtemp())
load_german_credit(form="frame", as_frame=True).frame.to_csv(folder / "german.csv",
                                                             index=False)

# %%
# The audit
# ---------
# :func:`~skpoison.audit.table_setting` reads and checks the file (the target
# and the ``features`` exist, the target has two classes) before anything is
# fitted. A logistic-regression victim (numbers imputed and standardised,
# categories one-hot encoded), label flipping at ``alpha`` = 1 and 2 poison
# rows per training row of the group, the five first groups of each finder.
setting = table_setting(folder / "german.csv", "credit",
                        features=["personal_status_sex"])
audit = setting_audit(setting, "lr", alphas=(1, 2), defenses=("none", "trim"),
                      max_subpopulations=5, n_jobs=1, progress=False)
print(f"clean test accuracy: {audit.clean_accuracy_[0]:.3f}")

# %%
# The most vulnerable groups
# --------------------------
# By name, with their rows in the training data, the clean model's accuracy on
# them and the target damage (accuracy lost on the group's test rows) at each
# alpha, without defense.
groups = audit.vulnerable_groups(top=6)
print("damage at alpha 1 / 2   rows  clean acc.  group")
for _, g in groups.iterrows():
    line = (f"        {g['damage at alpha=1']:6.3f} / {g['damage at alpha=2']:6.3f}"
            f"   {g['rows']:4d}  {g['clean accuracy']:10.3f}  {g['filter']}: {g['group']}")
    print(textwrap.fill(line, 100, subsequent_indent=" " * 42, break_on_hyphens=False))

# %%
# Did TRIM help, and what did it cost?
# ------------------------------------
# For each alpha: the groups whose damage TRIM clearly lowered or raised (a 95%
# interval on the paired difference with the undefended model, same poisoned
# rows, same test rows), the worst damage of any group without and with it and
# with a random filter removing as many rows, and its cost: the clean training
# rows it removed.
effect = audit.defense_effect()
print(effect[["defense", "alpha", "helped", "hurt", "no clear difference",
              "worst without", "worst with", "worst random filter",
              "clean rows removed"]].round(3).to_string(index=False))

# %%
# The damage per group, by name
# -----------------------------
fig, ax = plt.subplots(figsize=(8, 5.5))
labels = [textwrap.fill(g.replace("$", r"\$"), 42) for g in groups.group][::-1]
ax.barh(range(len(groups)), groups["damage at alpha=2"][::-1], color="#d62728")
ax.set_yticks(range(len(groups)), labels, fontsize=7)
ax.axvline(0, color="grey", lw=0.5)
ax.set_xlabel("target damage at alpha = 2 (accuracy lost on the group)")
ax.set_title("German credit: the groups label flipping damages most")
fig.tight_layout()
plt.show()

# %%
# ``audit.report("report.html")`` writes the same tables, these figures and
# the settings as one self-contained HTML page.
