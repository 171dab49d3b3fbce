; CodeMoat definitions for C#. The C# wheel installs its tags.scm outside its package (and it lacks structs,
; enums, records, constructors and properties), so this file stands alone.

(namespace_declaration
  name: (_) @name) @definition.module

(file_scoped_namespace_declaration
  name: (_) @name) @definition.module

(class_declaration
  name: (identifier) @name) @definition.class

(interface_declaration
  name: (identifier) @name) @definition.interface

(struct_declaration
  name: (identifier) @name) @definition.struct

(enum_declaration
  name: (identifier) @name) @definition.enum

(record_declaration
  name: (identifier) @name) @definition.record

(delegate_declaration
  name: (identifier) @name) @definition.type

(method_declaration
  name: (identifier) @name) @definition.method

(constructor_declaration
  name: (identifier) @name) @definition.constructor

(destructor_declaration
  name: (identifier) @name) @definition.method

(operator_declaration
  operator: _ @name) @definition.method

(property_declaration
  name: (identifier) @name) @definition.property

(local_function_statement
  name: (identifier) @name) @definition.function
