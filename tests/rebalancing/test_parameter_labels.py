"""Refusals name a setting as the parameter form labels it, from the form's one table of labels."""

from frontend import parameter_forms
from rebalancing import parameter_labels
from rebalancing.parameter_labels import setting_label, settings_in_words


def test_the_form_and_the_refusals_read_one_table_of_labels():
    assert parameter_forms.LABELS is parameter_labels.LABELS
    by_path = parameter_forms.FIELDS_BY_PATH
    for path in ("removed_asset_classes", "direct_index", "restrictions.hold", "screen.min_esg_score"):
        field = by_path[path]
        words = field.label if path == field.group else f"{field.group_title}: {field.label}"
        assert setting_label(path).lower() == words.lower()


def test_an_engine_refusal_names_settings_by_their_labels():
    said = settings_in_words("parameters screen.excluded_symbols and restrictions.hold both name VTI: remove it")

    assert said == ("settings “ESG / values screens: excluded securities” and “Restrictions: hold (neither buy nor "
                    "sell)” both name VTI: remove it")


def test_a_sleeves_own_setting_and_ordinary_words_are_left_as_they_are():
    said = settings_in_words("parameter direct_index.us_equity.max_names must be a positive integer; instructions")

    assert said == "parameter direct_index.us_equity.max_names must be a positive integer; instructions"
