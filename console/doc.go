// Package console serves the web console of deconflict: the static assets
// built from web/ by scripts/build-console into dist/, embedded in the
// binary, so that the console works with no internet at all.
//
// A fresh clone compiles without the built assets; the console then
// answers a plain page that says how to build it.
package console
