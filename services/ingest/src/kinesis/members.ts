/**
 * Reading request members the way Kinesis does: a member of the wrong JSON type is a
 * SerializationException; a member of the right type that breaks a rule is collected into one
 * ValidationException; unknown members are ignored, as AWS ignores them.
 */
import { AwsValidation, KinesisError } from './errors.js'

export type Body = Record<string, unknown>

function wrongType(member: string, want: string): never {
  throw new KinesisError('SerializationException', `${member}: expected ${want}`)
}

export interface StringRule {
  required?: boolean
  min?: number
  max?: number
  pattern?: RegExp
  /** The pattern as AWS documents it, for the message. */
  patternText?: string
  /** AWS' lowerCamel member path, e.g. streamName or records.1.member.partitionKey. */
  path: string
}

export function stringMember(body: Body, name: string, v: AwsValidation, rule: StringRule): string | undefined {
  const value = body[name]
  if (value === undefined || value === null) {
    if (rule.required) v.add(null, rule.path, 'Member must not be null')
    return undefined
  }
  if (typeof value !== 'string') wrongType(name, 'a string')
  if (rule.min !== undefined && value.length < rule.min) v.add(value, rule.path, `Member must have length greater than or equal to ${rule.min}`)
  else if (rule.max !== undefined && value.length > rule.max) v.add(value, rule.path, `Member must have length less than or equal to ${rule.max}`)
  else if (rule.pattern && !rule.pattern.test(value)) v.add(value, rule.path, `Member must satisfy regular expression pattern: ${rule.patternText ?? rule.pattern.source}`)
  return value
}

export interface NumberRule {
  required?: boolean
  min?: number
  max?: number
  integer?: boolean
  path: string
}

export function numberMember(body: Body, name: string, v: AwsValidation, rule: NumberRule): number | undefined {
  const value = body[name]
  if (value === undefined || value === null) {
    if (rule.required) v.add(null, rule.path, 'Member must not be null')
    return undefined
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) wrongType(name, 'a number')
  if (rule.integer && !Number.isInteger(value)) wrongType(name, 'an integer')
  if (rule.min !== undefined && value < rule.min) v.add(value, rule.path, `Member must have value greater than or equal to ${rule.min}`)
  else if (rule.max !== undefined && value > rule.max) v.add(value, rule.path, `Member must have value less than or equal to ${rule.max}`)
  return value
}

export function enumMember<T extends string>(body: Body, name: string, v: AwsValidation, values: readonly T[], rule: { required?: boolean; path: string }): T | undefined {
  const value = body[name]
  if (value === undefined || value === null) {
    if (rule.required) v.add(null, rule.path, 'Member must not be null')
    return undefined
  }
  if (typeof value !== 'string') wrongType(name, 'a string')
  if (!(values as readonly string[]).includes(value)) {
    v.add(value, rule.path, `Member must satisfy enum value set: [${values.join(', ')}]`)
    return undefined
  }
  return value as T
}

export function arrayMember(body: Body, name: string): unknown[] | undefined {
  const value = body[name]
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) wrongType(name, 'a list')
  return value
}

export function objectAt(value: unknown, member: string): Body {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) wrongType(member, 'a structure')
  return value as Body
}
