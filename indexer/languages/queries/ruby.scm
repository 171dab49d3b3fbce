; CodeMoat definitions for Ruby, read before the wheel's tags.scm, which has no name for `class << self`.

(singleton_class
  value: (self) @name) @scope
