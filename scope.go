package agileplus

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// Project limits. A principal limited to projects (Principal.Limited) sees
// and changes only those projects. The Service enforces it from the
// principal in the context, so every transport gets the same rules: a
// command or a query that names an entity of another project is
// EFORBIDDEN (field named after the ref), a list leaves other projects
// out, and what acts on the whole deployment (creating projects, bulk
// import and export, keys) is refused. Refs that name nothing answer
// ENOTFOUND as for anyone.

// limited returns the principal of ctx when it is limited to projects,
// nil otherwise: one context lookup for unrestricted callers.
func limited(ctx context.Context) *Principal {
	if p := PrincipalFrom(ctx); p.Limited() {
		return p
	}
	return nil
}

// allow returns nil when p (nil for an unrestricted caller) may use the
// project, and the ProjectDenied error naming field otherwise.
func allow(p *Principal, field, projectKey string) error {
	if p.AllowsProject(projectKey) {
		return nil
	}
	return p.ProjectDenied(field, projectKey)
}

// refuseLimited refuses a principal limited to projects an action on the
// whole deployment.
func refuseLimited(p *Principal, what string) error {
	if !p.Limited() {
		return nil
	}
	return &Error{Code: EFORBIDDEN, Message: fmt.Sprintf("key %s is limited to projects %s; %s acts on the whole deployment and needs a key that is not limited to projects",
		p.Name, strings.Join(p.Projects, ", "), what)}
}

// wpKeyProject returns the project key of a WP key such as CORE-12.
func wpKeyProject(key string) string {
	if i := strings.LastIndexByte(key, '-'); i > 0 {
		return key[:i]
	}
	return ""
}

// allowedProjects returns the projects p is limited to that exist, by id.
func allowedProjects(ctx context.Context, tx ReadTx, p *Principal) ([]*Project, error) {
	var ps []*Project
	for _, key := range p.Projects {
		pr, err := tx.Project(ctx, key)
		if ErrorCode(err) == ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(ps, func(o *Project) bool { return o.ID == pr.ID }) {
			ps = append(ps, pr)
		}
	}
	slices.SortFunc(ps, func(a, b *Project) int { return cmp.Compare(a.ID, b.ID) })
	return ps, nil
}

// allowedProjectIDs is allowedProjects as a set of ids.
func allowedProjectIDs(ctx context.Context, tx ReadTx, p *Principal) (map[string]bool, error) {
	ps, err := allowedProjects(ctx, tx, p)
	if err != nil {
		return nil, err
	}
	ids := make(map[string]bool, len(ps))
	for _, pr := range ps {
		ids[pr.ID] = true
	}
	return ids, nil
}

// checkWPs refuses p the WPs named by refs (field, ref pairs) that lie in
// projects it may not use. A ref that names no WP passes, so the query
// answers ENOTFOUND as for anyone.
func (s *Service) checkWPs(ctx context.Context, p *Principal, fieldRefs ...string) error {
	return s.view(ctx, func(tx ReadTx) error {
		for i := 0; i+1 < len(fieldRefs); i += 2 {
			w, err := tx.WP(ctx, fieldRefs[i+1])
			if ErrorCode(err) == ENOTFOUND {
				continue
			} else if err != nil {
				return err
			}
			if err := allow(p, fieldRefs[i], w.ProjectKey); err != nil {
				return err
			}
		}
		return nil
	})
}
