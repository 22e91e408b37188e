// Package leaky is a public package whose tests reach into internal/.
package leaky
