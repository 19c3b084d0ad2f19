// Package chatapp composes the chatops function: the chat handler of
// pkg/chatops over an App's flows, ledger and reply channels.
//
// It is apart from pkg/app so that the three event functions, which link
// pkg/app, never link the chat code.
package chatapp
