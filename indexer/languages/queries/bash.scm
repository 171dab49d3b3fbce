; CodeMoat definitions for Bash: the wheel ships no tags.scm. Both `name() {` and `function name {` forms.

(function_definition
  name: (word) @name) @definition.function
