{#
  The options each participant selected in multiple-choice answers: one row per task answer and
  selected option. The shape of `answer.multipleChoice` is undocumented, so this reads it as
  tolerantly as the Python normalizer (ut_dagster/normalize/answers.py) does:
  - the selection is the first of these keys that is present; a list, or a single value;
  - an `options` list counts only for items flagged selected (the rest were merely offered);
  - failing both, `multipleChoice` may itself be the one selected option ({"label": "Blue"});
  - an option is a string or number, or an object labelled by the first of `label_keys`;
  - items flagged `selected: false` (or isSelected / checked) are not selections.
#}
{%- set selection_keys = ['selected', 'selectedOptions', 'selectedOption', 'selectedValues',
                          'selections', 'selection', 'choices', 'answers', 'values'] -%}
{%- set label_keys = ['label', 'text', 'value', 'name', 'title'] -%}
{%- set flag_keys = ['selected', 'isSelected', 'checked'] -%}

with answers as (
    select
        test_id,
        session_id,
        task_uuid,
        position,
        {{ json_get(parse_json_text('answer_json'), 'multipleChoice') }} as multiple_choice
    from {{ ref('stg_tasks') }}
    where answer_json is not null
      and not coalesce(skipped, false)
),

selections as (
    select
        test_id,
        session_id,
        task_uuid,
        position,
        case
            {%- for key in selection_keys %}
            when {{ json_get('multiple_choice', key) }} is not null then '{{ key }}'
            {%- endfor %}
            when {{ json_get('multiple_choice', 'options') }} is not null then 'options'
            when multiple_choice is not null then 'multipleChoice'
        end as selection_key,
        coalesce(
            {%- for key in selection_keys %}
            {{ json_get('multiple_choice', key) }},
            {%- endfor %}
            {{ json_get('multiple_choice', 'options') }},
            multiple_choice
        ) as selection
    from answers
    where multiple_choice is not null
),

items as (
    select
        s.test_id,
        s.session_id,
        s.task_uuid,
        s.position,
        s.selection_key,
        coalesce(
            {%- for key in label_keys %}
            {{ json_get_string('item.value', key) }},
            {%- endfor %}
            -- A bare string or number is its own label; an unlabelled object is no option.
            case
                when left({{ json_get_string('item.value', '') }}, 1) not in ('{', '[')
                    then {{ json_get_string('item.value', '') }}
            end
        ) as option_label,
        lower(coalesce(
            {%- for key in flag_keys %}
            {{ json_get_string('item.value', key) }}{{ ',' if not loop.last }}
            {%- endfor %}
        )) as selected_flag
    from selections as s
    {{ json_array_elements('s.selection', '', 'item') }}
)

select distinct
    test_id,
    session_id,
    task_uuid,
    position,
    option_label
from items
where option_label is not null
  and (
      selected_flag = 'true'
      or (selected_flag is null and selection_key <> 'options')
  )
