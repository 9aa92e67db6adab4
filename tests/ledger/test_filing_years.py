"""A filing status that changes between years (pure: ``ledger.filing_years``). Each year's Schedule D
takes that year's returns and limit; a loss carried across a change follows Treas. Reg.
§1.1212-1(c) and Pub. 550 "Capital Losses": separate returns then a joint one, the spouses'
carryovers are combined; a joint return then separate ones, the carryover goes to the spouse whose
loss it was; a married couple's return then one person's (single, head of household: a divorce or a
death), only the filer's part continues. Worked examples, the old one-status chain as a reference where nothing changes, and a
deliberately simple reading in whole cents over random households."""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing.ledger.filing_years import household_sheets, returns_of, status_in, statuses_set
from rebalancing.ledger.schedule_d import ScheduleD, joint_halves, loss_limit

JOINT, SEPARATE, SINGLE, HEAD = "married_joint", "married_separate", "single", "head_of_household"
STATUSES = (JOINT, SEPARATE, SINGLE, HEAD)


def _sheets(results, statuses: dict[int, str], through, opening=None, default=JOINT, filer="first"):
    return household_sheets(results, status_of=lambda y: statuses.get(y, default), through=through, opening=opening,
                            filer=filer)


# --- Worked examples -----------------------------------------------------------------------------

def test_a_joint_returns_carryover_goes_to_the_spouse_whose_loss_it_was():
    # 2025, joint: the first spouse loses 10,000 short-term, the second gains 2,000 long-term: the
    # return nets -8,000, deducts 3,000 and carries 5,000 short-term. 2026, filing separately: the
    # 5,000 is the first spouse's (Pub. 550: "only on the return of the spouse who actually had the
    # loss"); the second starts from nothing.
    years = _sheets({2025: {"first": (D(-10000), D(0)), "second": (D(0), D(2000))}},
                    {2025: JOINT, 2026: SEPARATE}, through=2026)
    joint = years[2025][""]
    assert (joint.net, joint.deduction, joint.carried_out_short, joint.carried_out_long) == (-8000, 3000, 5000, 0)
    first, second = years[2026]["first"], years[2026]["second"]
    assert (first.carried_in_short, first.carried_in_long, first.limit, first.deduction) == (5000, 0, 1500, 1500)
    assert (first.carried_out_short, first.filing_status, first.spouse) == (3500, SEPARATE, "first")
    assert (second.carried_in_short, second.carried_in_long, second.deduction) == (0, 0, 0)


def test_separate_carryovers_are_combined_on_the_joint_return():
    # 2025, separately: the first spouse loses 5,000 long-term, the second 4,000 long-term; each deducts
    # 1,500 and carries 3,500 and 2,500. 2026, jointly: 6,000 long-term carried in, 3,000 deducted.
    years = _sheets({2025: {"first": (D(0), D(-5000)), "second": (D(0), D(-4000))}},
                    {2025: SEPARATE, 2026: JOINT}, through=2026)
    assert (years[2025]["first"].carried_out_long, years[2025]["second"].carried_out_long) == (3500, 2500)
    joint = years[2026][""]
    assert (joint.carried_in_long, joint.limit, joint.deduction, joint.carried_out_long) == (6000, 3000, 3000, 3000)


def test_when_both_spouses_lost_the_carryover_is_split_by_their_individual_net_capital_losses():
    # 2025, joint: the first loses 9,000 short-term, the second 3,000 short-term and 8,000 long-term;
    # a joint account loses 2,000.01 long-term (1,000.01 and 1,000.00). The return carries
    # 9,000 short-term (12,000 less 3,000) and 10,000.01 long-term. Their individual net capital
    # losses (Treas. Reg. §1.1212-1(c)(1)(iii)): the first 10,000.01, the second 12,000.00. 2026
    # separately: each character split 10,000.01 : 12,000 - the short-term 4,090.91 / 4,909.09, the
    # long-term 4,545.46 / 5,454.55 (the second's share rounded half up, the first's the rest).
    years = _sheets({2025: {"first": (D(-9000), D(0)), "second": (D(-3000), D(-8000)),
                            "joint": (D(0), D("-2000.01"))}}, {2025: JOINT, 2026: SEPARATE}, through=2026)
    joint = years[2025][""]
    assert (joint.carried_out_short, joint.carried_out_long) == (9000, D("10000.01"))
    first, second = years[2026]["first"], years[2026]["second"]
    assert (first.carried_in_short, second.carried_in_short) == (D("4090.91"), D("4909.09"))
    assert (first.carried_in_long, second.carried_in_long) == (D("4545.46"), D("5454.55"))


def test_a_spouse_whose_own_results_net_to_nothing_takes_none():
    # 2025 joint: the first loses 10,000 short-term and gains 10,000 long-term (their own net: 0);
    # the second loses 6,000 long-term. The return nets -6,000 (short -10,000, long +4,000),
    # deducts 3,000 and carries 3,000 short-term: only the second spouse had a net capital loss.
    years = _sheets({2025: {"first": (D(-10000), D(10000)), "second": (D(0), D(-6000))}},
                    {2025: JOINT, 2026: SEPARATE}, through=2026)
    assert (years[2025][""].carried_out_short, years[2025][""].carried_out_long) == (3000, 0)
    assert (years[2026]["first"].carried_in_short, years[2026]["second"].carried_in_short) == (0, 3000)


def test_a_spouse_with_a_net_gain_takes_none_of_the_carryover_whatever_its_character():
    # 2025, joint: the first loses 10,000 short-term; the second gains 8,000 short-term and loses
    # 5,000 long-term - a net gain of 3,000 of their own. The return: short -2,000, long -5,000; 3,000
    # deducted (2,000 of it from the short-term loss), 4,000 long-term carried. The second spouse had
    # the only long-term loss but no net capital loss: the 4,000 is the first's (before 2026-12-07
    # each character went by the spouses' losses of it, and the second took it all).
    years = _sheets({2025: {"first": (D(-10000), D(0)), "second": (D(8000), D(-5000))}},
                    {2025: JOINT, 2026: SEPARATE}, through=2026)
    assert (years[2025][""].carried_out_short, years[2025][""].carried_out_long) == (0, 4000)
    assert (years[2026]["first"].carried_in_long, years[2026]["second"].carried_in_long) == (4000, 0)


def test_a_spouses_part_is_kept_through_joint_years_and_found_at_the_change():
    # Separately in 2024 the second spouse carries 6,000 long-term out; 2025 jointly with no sale
    # deducts 3,000 of it; 2026 separately: the 3,000 left is still the second spouse's.
    years = _sheets({2024: {"second": (D(0), D(-7500))}}, {2024: SEPARATE, 2025: JOINT, 2026: SEPARATE},
                    through=2026)
    assert years[2024]["second"].carried_out_long == 6000
    assert (years[2025][""].carried_in_long, years[2025][""].carried_out_long) == (6000, 3000)
    assert (years[2026]["first"].carried_in_long, years[2026]["second"].carried_in_long) == (0, 3000)


def test_single_head_of_household_and_joint_are_one_taxpayer_whose_carryover_continues_whole():
    years = _sheets({2024: {"first": (D(-20000), D(0))}}, {2024: SINGLE, 2025: JOINT, 2026: HEAD}, through=2026)
    assert [years[y][""].carried_in_short for y in (2024, 2025, 2026)] == [0, 17000, 14000]
    assert [years[y][""].filing_status for y in (2024, 2025, 2026)] == [SINGLE, JOINT, HEAD]


def test_after_separate_returns_a_single_return_carries_in_only_the_filers_own():
    # 2025 separately: the first spouse carries 3,500 long-term out (5,000 - 1,500), the second
    # 8,500 (10,000 - 1,500). 2026 single: the filer's alone; the other's is shown, not carried.
    results = {2025: {"first": (D(0), D(-5000)), "second": (D(0), D(-10000))}}
    for filer, kept, left in (("first", 3500, 8500), ("second", 8500, 3500)):
        for status in (SINGLE, HEAD):
            sheet = _sheets(results, {2025: SEPARATE, 2026: status}, through=2026, filer=filer)[2026][""]
            assert (sheet.carried_in_long, sheet.not_carried_long) == (kept, left)
            assert (sheet.deduction, sheet.carried_out_long) == (3000, kept - 3000)


def test_after_a_joint_return_a_single_return_carries_in_the_filers_part():
    # 2025 jointly: only the second spouse lost (10,000 short-term); 7,000 carried out, all theirs.
    # 2026 the first files alone (a divorce, or the second's death: Pub. 550, a decedent's loss ends
    # with their final return): nothing carried in, 7,000 shown as not carried; the second alone: 7,000.
    results = {2025: {"second": (D(-10000), D(0))}}
    years = _sheets(results, {2025: JOINT, 2026: SINGLE}, through=2027)
    assert (years[2026][""].carried_in_short, years[2026][""].not_carried_short) == (0, 7000)
    assert (years[2027][""].carried_in_short, years[2027][""].not_carried_short) == (0, 0)
    years = _sheets(results, {2025: JOINT, 2026: SINGLE}, through=2027, filer="second")
    assert (years[2026][""].carried_in_short, years[2026][""].not_carried_short) == (7000, 0)
    assert years[2027][""].carried_in_short == 4000
    # both lost in the joint year: each keeps their share, by their own loss
    years = _sheets({2025: {"first": (D(-4000), D(0)), "second": (D(-12000), D(0))}}, {2025: JOINT, 2026: HEAD},
                    through=2026, filer="second")
    assert (years[2026][""].carried_in_short, years[2026][""].not_carried_short) == (9750, 3250)


def test_a_single_years_carryover_is_the_filers_whatever_the_accounts_say():
    # single throughout, an account marked as the second spouse's: one taxpayer, the loss continues whole
    years = _sheets({2024: {"second": (D(-9000), D(0))}}, {2024: SINGLE, 2025: SINGLE}, through=2025)
    assert years[2025][""].carried_in_short == 6000 and years[2025][""].not_carried_short == 0
    # an opening carryover into a single year is the filer's, whoever files
    years = _sheets({}, {2025: SINGLE, 2026: HEAD}, through=2026, filer="second",
                    opening=(2025, {"first": (D(0), D(5000)), "second": (D(0), D(0))}))
    assert (years[2026][""].carried_in_long, years[2026][""].not_carried_long) == (2000, 0)


def test_the_opening_carryover_of_a_separate_year_is_each_spouses():
    years = _sheets({}, {2025: SEPARATE, 2026: JOINT}, through=2026,
                    opening=(2025, {"first": (D(1000), D(0)), "second": (D(0), D(2500))}))
    assert (years[2025]["first"].carried_out_short, years[2025]["second"].carried_out_long) == (0, 1000)
    # first: 1,000 deducted of 1,500; second: 1,500 of 2,500 deducted, 1,000 carried into the joint year
    assert (years[2026][""].carried_in_short, years[2026][""].carried_in_long) == (0, 1000)


def test_a_year_without_sales_or_carryover_still_has_its_returns():
    years = _sheets({}, {2026: SEPARATE}, through=2026)
    assert sorted(years[2026]) == ["first", "second"] and years[2026]["first"].limit == 1500


# --- The statuses themselves -----------------------------------------------------------------------

def test_a_change_from_a_year_keeps_the_years_before():
    past, current = statuses_set((), JOINT, SEPARATE, 2026)
    assert (past, current) == (((2025, JOINT),), SEPARATE)
    assert [status_in(y, current, past) for y in (1990, 2025, 2026, 2030)] == [JOINT, JOINT, SEPARATE, SEPARATE]
    # back to joint from 2028: 2026-2027 stay separate
    past, current = statuses_set(past, current, JOINT, 2028)
    assert (past, current) == (((2025, JOINT), (2027, SEPARATE)), JOINT)
    # a correction of every year leaves one status and no past
    assert statuses_set(past, current, HEAD, 1900) == ((), HEAD)
    # joint from 2026 too: every year joint
    assert statuses_set(past, current, JOINT, 2026) == ((), JOINT)
    # the same status again changes nothing
    assert statuses_set(past, current, JOINT, 2028) == (past, current)
    assert statuses_set(((2025, JOINT),), SEPARATE, SEPARATE, 2026) == (((2025, JOINT),), SEPARATE)
    assert returns_of(SEPARATE) == ("first", "second") and returns_of(HEAD) == ("",)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(STATUSES), st.lists(st.tuples(st.sampled_from(STATUSES), st.integers(1900, 2030)), max_size=8))
def test_statuses_agree_with_a_year_by_year_table(first, changes):
    # The reference: a table of every year's status, each change overwriting its year and all after.
    table = dict.fromkeys(range(1890, 2041), first)
    past, current = (), first
    for status, year in changes:
        for y in range(year, 2041):
            table[y] = status
        past, current = statuses_set(past, current, status, year)
        assert all(status_in(y, current, past) == table[y] for y in range(1900, 2041))
        # normalised: ascending, no two neighbours alike, the last differing from the current status
        statuses = [s for _, s in past] + [current]
        assert [y for y, _ in past] == sorted({y for y, _ in past})
        assert all(a != b for a, b in zip(statuses, statuses[1:], strict=False))


# --- Nothing changes: the old single-status chain --------------------------------------------------

@st.composite
def _one_status_case(draw):
    status = draw(st.sampled_from(STATUSES))
    results = {}
    for year in draw(st.lists(st.integers(2020, 2026), unique=True, max_size=5)):
        results[year] = {owner: (D(draw(st.integers(-900_000, 600_000))) / 100, D(draw(st.integers(-900_000, 600_000))) / 100)
                         for owner in draw(st.lists(st.sampled_from(("first", "second", "joint")), unique=True))}
    opening = (2020, {"first": (D(draw(st.integers(0, 500_000))) / 100, D(draw(st.integers(0, 500_000))) / 100),
                      "second": (D(draw(st.integers(0, 500_000))) / 100, D(draw(st.integers(0, 500_000))) / 100)
                      if status == SEPARATE else (D(0), D(0))})
    return status, results, opening


def _one_return_chain(netted, status, through, opening):
    """One return's years as they were figured before statuses by year: from the opening year (no
    sale before it here), each carrying its loss into the next, at one status's limit."""
    chain, carried = [], opening[1:]
    for year in range(opening[0], through + 1):
        short, long = netted.get(year, (D(0), D(0)))
        sheet = ScheduleD(year, short, long, *carried, loss_limit(status))
        chain.append(sheet)
        carried = (sheet.carried_out_short, sheet.carried_out_long)
    return chain


@settings(max_examples=200, deadline=None)
@given(_one_status_case())
def test_with_one_status_every_year_the_sheets_are_the_old_chains(case):
    # The chain before statuses by year, per return, fed what each return nets.
    status, results, opening = case
    years = household_sheets(results, status_of=lambda y: status, through=2026, opening=opening)
    for key in returns_of(status):
        netted = {}
        for year, owners in results.items():
            zero = (D(0), D(0))
            joint = owners.get("joint", zero)
            halves = [joint_halves(joint[0]), joint_halves(joint[1])]
            if key == "":
                short = sum((v[0] for v in owners.values()), D(0))
                long = sum((v[1] for v in owners.values()), D(0))
            else:
                i = 0 if key == "first" else 1
                short = owners.get(key, zero)[0] + halves[0][i]
                long = owners.get(key, zero)[1] + halves[1][i]
            netted[year] = (short, long)
        chain = _one_return_chain(netted, status, 2026, (2020, *opening[1]["first" if key in ("", "first") else "second"]))
        assert [(s.year, s.net, s.deduction, s.carried_out_short, s.carried_out_long) for s in chain] == [
            (s.year, s.net, s.deduction, s.carried_out_short, s.carried_out_long)
            for s in (years[y][key] for y in sorted(years))]


# --- Random households against a plain reading in whole cents ---------------------------------------

YEARS = range(2021, 2027)


def _plain(sales, statuses, opening, filer):
    """Every year in integer cents: a return nets its owners' sales with its carried loss, deducts at
    most its limit (short-term first), carries the rest with its character. A spouse's own sales are
    their accounts' and half of the joint account's (the second's half toward zero). Filing separately
    each spouse carries their own; jointly, the carryover of each character is split in proportion to
    each spouse's individual net capital loss (both terms, Treas. Reg. §1.1212-1(c)(1)(iii); the
    second's share rounded half up); single or head of
    household, the return is the filer's: it carries in the filer's part only, and all it carries out
    is theirs."""
    def worksheet(short, long, limit):
        net = short + long
        deducted = min(limit, -net) if net < 0 else 0
        short_loss, long_loss = max(-short, 0), max(-long, 0)
        short_loss, long_loss = max(short_loss - max(long, 0), 0), max(long_loss - max(short, 0), 0)
        from_short = min(deducted, short_loss)
        return net, deducted, short_loss - from_short, long_loss - (deducted - from_short)

    other = "second" if filer == "first" else "first"
    carried = dict(opening)  # spouse -> [short, long] carried into the year
    if statuses[YEARS[0]] in (SINGLE, HEAD):
        carried = {filer: opening["first"], other: (0, 0)}
    out = {}
    for year in YEARS:
        status = statuses[year]
        owned = {o: list(sales.get((year, o), (0, 0))) for o in ("first", "second", "joint")}
        own = {"first": list(owned["first"]), "second": list(owned["second"])}
        for t in (0, 1):
            j = owned["joint"][t]
            half = -((-j) // 2) if j < 0 else j // 2
            own["second"][t] += half
            own["first"][t] += j - half
        if status == SEPARATE:
            for s in ("first", "second"):
                net, deducted, cs, cl = worksheet(own[s][0] - carried[s][0], own[s][1] - carried[s][1], 150_000)
                out[(year, s)] = (net, deducted, cs, cl)
                carried[s] = (cs, cl)
        elif status in (SINGLE, HEAD):
            total = [owned["first"][t] + owned["second"][t] + owned["joint"][t] for t in (0, 1)]
            net, deducted, cs, cl = worksheet(total[0] - carried[filer][0], total[1] - carried[filer][1], 300_000)
            out[(year, "")] = (net, deducted, cs, cl)
            out[(year, "left")] = carried[other]
            carried = {filer: (cs, cl), other: (0, 0)}
        else:
            total = [owned["first"][t] + owned["second"][t] + owned["joint"][t] for t in (0, 1)]
            net, deducted, cs, cl = worksheet(total[0] - carried["first"][0] - carried["second"][0],
                                              total[1] - carried["first"][1] - carried["second"][1], 300_000)
            out[(year, "")] = (net, deducted, cs, cl)
            parts = {}
            # each spouse's individual net capital loss: both terms netted, their part carried in included
            losses = [max(sum(carried[s]) - sum(own[s]), 0) for s in ("first", "second")]
            for t, c in ((0, cs), (1, cl)):
                second = 0 if c == 0 else (2 * c * losses[1] + sum(losses)) // (2 * sum(losses))  # half up
                parts[t] = (c - second, second)
            carried = {"first": (parts[0][0], parts[1][0]), "second": (parts[0][1], parts[1][1])}
    return out


@st.composite
def _household_case(draw):
    statuses = {y: draw(st.sampled_from((JOINT, SEPARATE, SEPARATE, SINGLE, HEAD))) for y in YEARS}
    sales = {(y, o): (draw(st.integers(-2_000_000, 1_000_000)), draw(st.integers(-2_000_000, 1_000_000)))
             for y in YEARS for o in ("first", "second", "joint") if draw(st.booleans())}
    opening = {"first": (draw(st.integers(0, 900_000)), draw(st.integers(0, 900_000))),
               "second": (draw(st.integers(0, 900_000)), draw(st.integers(0, 900_000)))
               if statuses[2021] == SEPARATE else (0, 0)}
    return statuses, sales, opening, draw(st.sampled_from(("first", "second")))


@settings(max_examples=400, deadline=None)
@given(_household_case())
def test_sheets_across_changes_agree_with_a_plain_reading_in_cents(case):
    statuses, sales, opening, filer = case
    results = {}
    for (year, owner), (short, long) in sales.items():
        results.setdefault(year, {})[owner] = (D(short) / 100, D(long) / 100)
    years = household_sheets(results, status_of=statuses.__getitem__, through=2026,
                             opening=(2021, {s: (D(v[0]) / 100, D(v[1]) / 100) for s, v in opening.items()}),
                             filer=filer)
    want = _plain(sales, statuses, opening, filer)
    for year in YEARS:
        assert sorted(years[year]) == sorted(returns_of(statuses[year]))
        for key, sheet in years[year].items():
            got = tuple(int(v * 100) for v in (sheet.net, sheet.deduction, sheet.carried_out_short,
                                               sheet.carried_out_long))
            assert got == want[(year, key)], (year, key, got, want[(year, key)])
            left = tuple(int(v * 100) for v in (sheet.not_carried_short, sheet.not_carried_long))
            assert left == want.get((year, "left"), (0, 0)), (year, key, left)
        # what a year carries out is what the next carries in or shows as not carried (the other
        # spouse's, on one person's return), whatever the change between them
        if year + 1 in years:
            out = [sum((getattr(s, f) for s in years[year].values()), D(0)) for f in ("carried_out_short", "carried_out_long")]
            into = [sum((getattr(s, f) + getattr(s, g) for s in years[year + 1].values()), D(0))
                    for f, g in (("carried_in_short", "not_carried_short"), ("carried_in_long", "not_carried_long"))]
            assert out == into
