; CodeMoat definitions for Kotlin: the wheel ships no tags.scm.

(class_declaration
  "interface"
  name: (identifier) @name) @definition.interface

(class_declaration
  (modifiers
    (class_modifier) @_modifier)
  name: (identifier) @name
  (#eq? @_modifier "enum")) @definition.enum

(class_declaration
  name: (identifier) @name) @definition.class

(object_declaration
  name: (identifier) @name) @definition.object

(companion_object) @scope

(function_declaration
  name: (identifier) @name) @definition.function

(type_alias
  "typealias"
  .
  (identifier) @name) @definition.type

(source_file
  (property_declaration
    (modifiers
      (property_modifier) @_modifier)
    (variable_declaration
      (identifier) @name)
    (#eq? @_modifier "const")) @definition.constant)
