// Package crosstest holds tests that need two adapters at once.
package crosstest
