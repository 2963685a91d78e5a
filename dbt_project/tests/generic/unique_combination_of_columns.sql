{#
  Fails for every combination of the given columns that occurs more than once: the grain of a
  model whose key spans several columns. Written here rather than taken from dbt_utils: CI
  installs no dbt packages.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select {{ combination_of_columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
