import { UsageError } from '../../lib/errors.js';

// Names become storage keys (models/<model>/tags/<tag>), so they are checked once, here, against a conservative
// pattern that is safe as a path segment and an S3 key on every platform.

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Whether `value` is safe as one path segment and S3 key part: the rule every name aim stores under follows. */
export function isSafeName(value: string): boolean {
  return NAME_PATTERN.test(value) && !value.includes('..');
}

/** Why `value` is not a valid name of `kind` ("repository", ...), or undefined when it is one. */
export function nameProblem(kind: string, value: string): string | undefined {
  return isSafeName(value) ? undefined : `invalid ${kind} name "${value}"`;
}

function check(kind: string, value: string, example: string): string {
  const problem = nameProblem(kind, value);
  if (problem) {
    throw new UsageError(problem, {
      hint: `use letters, digits, ".", "_" and "-" (up to 128, starting with a letter or digit), e.g. ${example}`,
    });
  }
  return value;
}

export const checkRepoName = (value: string): string => check('repository', value, 'team-vision');
export const checkModelName = (value: string): string => check('model', value, 'resnet50-finetuned');
export const checkTagName = (value: string): string => check('tag', value, 'v1.0');
export const checkDeploymentName = (value: string): string => check('deployment', value, 'qwen2.5-7b-instruct');
