/**
 * The base type of the user's errors, {@link dev.frcnn.error.UserInputException}: bad input, bad config, bad
 * weights (exit code 2 in the CLI). A leaf: it imports nothing else of the project, so that every package may throw
 * it without a dependency cycle.
 */
package dev.frcnn.error;
