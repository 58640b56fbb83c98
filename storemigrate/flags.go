package storemigrate

import (
	"fmt"
	"maps"
	"slices"

	"github.com/agileplus/agileplus"
)

// flagScopes are the scopes flag values may be stored in: global, then
// each project.
func flagScopes(projectIDs []string) []string {
	return append([]string{""}, projectIDs...)
}

// flags copies the stored flag values, a few per scope: one target
// transaction for each scope that has any.
func (m *migration) flags() error {
	for _, scope := range flagScopes(m.projectIDs) {
		var vals map[string]string
		if err := m.src.View(m.ctx, func(tx agileplus.ReadTx) (err error) {
			vals, err = tx.FlagValues(m.ctx, scope)
			return err
		}); err != nil {
			return fmt.Errorf("migrate: read flags: %w", err)
		}
		if len(vals) == 0 {
			continue
		}
		if err := m.dst.Update(m.ctx, func(tx agileplus.Tx) error { return tx.PutFlagValues(m.ctx, scope, vals, nil) }); err != nil {
			return fmt.Errorf("migrate: write flags: %w", err)
		}
		m.rep.Flags += len(vals)
		m.progress("flags", m.rep.Flags, 0)
	}
	return nil
}

func (v *verifier) flags() error {
	v.section("flags")
	for _, scope := range flagScopes(v.projectIDs) {
		vals, err := v.tx.FlagValues(v.ctx, scope)
		if err != nil {
			return err
		}
		for _, name := range slices.Sorted(maps.Keys(vals)) {
			if err := v.put([]string{scope, name, vals[name]}); err != nil {
				return err
			}
		}
	}
	return nil
}
