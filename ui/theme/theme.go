// Package theme holds every style the console draws with. A Theme is built
// once per console (and again when the terminal reports its background),
// never in View code.
//
// Colours are the 16 ANSI colours, which the terminal's own palette maps to
// shades readable on its background, dark or light; meaning never rests on
// colour alone (badges carry their word, the selection is reversed), so the
// console stays usable when NO_COLOR strips every colour.
package theme

import (
	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// Theme is the console's styles.
type Theme struct {
	Title, Location, Faint, Bold           lipgloss.Style
	TabActive, TabInactive                 lipgloss.Style
	BannerErr, BannerInfo, BannerWarn      lipgloss.Style
	ColHeader, Selected, Revoked           lipgloss.Style
	BadgeActive, BadgeDisabled, BadgeRevok lipgloss.Style
	ModalTitle                             lipgloss.Style
	Button, ButtonOff, ButtonDanger        lipgloss.Style
	Ok, Err, Warn, Secret                  lipgloss.Style
	Help                                   help.Styles
}

// New returns the theme for a dark (or light) terminal background.
func New(isDark bool) Theme {
	s := lipgloss.NewStyle
	red, green, yellow, cyan := lipgloss.Color("1"), lipgloss.Color("2"), lipgloss.Color("3"), lipgloss.Color("6")
	return Theme{
		Title:         s().Bold(true),
		Location:      s().Faint(true),
		Faint:         s().Faint(true),
		Bold:          s().Bold(true),
		TabActive:     s().Bold(true).Reverse(true),
		TabInactive:   s().Faint(true),
		BannerErr:     s().Foreground(red).Bold(true),
		BannerInfo:    s().Foreground(green),
		BannerWarn:    s().Foreground(yellow).Bold(true),
		ColHeader:     s().Bold(true).Underline(true),
		Selected:      s().Reverse(true),
		Revoked:       s().Faint(true),
		BadgeActive:   s().Foreground(green).Bold(true),
		BadgeDisabled: s().Foreground(yellow).Bold(true),
		BadgeRevok:    s().Faint(true),
		ModalTitle:    s().Bold(true),
		Button:        s().Reverse(true).Bold(true),
		ButtonOff:     s().Faint(true),
		ButtonDanger:  s().Reverse(true).Bold(true).Foreground(red),
		Ok:            s().Foreground(green),
		Err:           s().Foreground(red),
		Warn:          s().Foreground(yellow),
		Secret:        s().Bold(true).Foreground(cyan),
		Help:          help.DefaultStyles(isDark),
	}
}
