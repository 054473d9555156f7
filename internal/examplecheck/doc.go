// Package examplecheck holds a test of the whole repository: every Example
// function has output that go test recognises, so that go test runs it and
// checks what it prints (CONTRIBUTING.md). It has no code of its own.
package examplecheck
