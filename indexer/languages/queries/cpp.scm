; CodeMoat definitions for C++. The wheel's tags.scm captures function declarators (the name line) rather than
; functions, so this file replaces it.

(function_definition
  declarator: (function_declarator
    declarator: [(identifier) (field_identifier) (operator_name) (destructor_name)] @name)) @definition.function

(function_definition
  declarator: (function_declarator
    declarator: (qualified_identifier
      name: (_) @name))) @definition.method

(function_definition
  declarator: (pointer_declarator
    declarator: (function_declarator
      declarator: (_) @name))) @definition.function

(function_definition
  declarator: (reference_declarator
    (function_declarator
      declarator: (_) @name))) @definition.function

(class_specifier
  name: (_) @name
  body: (_)) @definition.class

(struct_specifier
  name: (_) @name
  body: (_)) @definition.struct

(union_specifier
  name: (_) @name
  body: (_)) @definition.union

(enum_specifier
  name: (_) @name
  body: (_)) @definition.enum

(namespace_definition
  name: (_) @name) @definition.module

(type_definition
  declarator: (type_identifier) @name) @definition.type

(alias_declaration
  name: (type_identifier) @name) @definition.type

(concept_definition
  name: (identifier) @name) @definition.type

(preproc_def
  name: (identifier) @name) @definition.macro

(preproc_function_def
  name: (identifier) @name) @definition.macro
